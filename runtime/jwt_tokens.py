"""Signed bearer tokens (JWT) for a deployment: an identity provider signs, the services verify.

Configured from the environment, never from a file in the image:
- `JWT_JWKS_FILE` (a JSON Web Key Set on disk) or `JWT_JWKS_URL` (fetched, cached, refetched
  when a token names a key id not yet seen, so the provider can rotate keys);
- `JWT_ISSUER` and `JWT_AUDIENCE` (both required: a token for another service or from another
  issuer is refused);
- `JWT_ALGORITHMS` (optional, comma separated; a subset of `PINNED_ALGORITHMS`).

RFC 8725 (JWT best current practices) as applied here:
- algorithms are pinned to asymmetric ones: `none` and every HMAC algorithm are refused, so a
  public key can never be used as an HMAC secret ("algorithm confusion");
- the key is chosen by `kid` from the configured set only (never from `jku`, `jwk` or `x5u`
  headers of the token), and must be of the family the token's algorithm names;
- `exp`, `iss` and `aud` are required and checked (`nbf` and `iat` too when present), with a
  small leeway for clock skew.

Claims map to the principal: `org_id` (or `sub`), `role` (one of the contract's roles) and
`partnership` (absent: none; `"*"`: national operations).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

import jwt
from jwt import PyJWK, PyJWKClient

from runtime.principal import Principal, Role

PINNED_ALGORITHMS = ("RS256", "ES256", "EdDSA")
_KEY_TYPES = {"RS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}
_ROLES = frozenset(get_args(Role))
LEEWAY_SECONDS = 30
MAX_TOKEN_LENGTH = 8192


class InvalidToken(Exception):
    """The token is not one we accept. The message names the check, never the token."""


class JwtVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        keys: Mapping[str, PyJWK] | None = None,
        jwks_url: str | None = None,
        algorithms: tuple[str, ...] = PINNED_ALGORITHMS,
        leeway: float = LEEWAY_SECONDS,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("JWT_ISSUER and JWT_AUDIENCE are both required")
        unpinned = set(algorithms) - set(PINNED_ALGORITHMS)
        if unpinned or not algorithms:
            raise ValueError(f"algorithms must be a subset of {PINNED_ALGORITHMS}")
        if keys is None and jwks_url is None:
            raise ValueError("a JWKS file or URL is required")
        self.issuer = issuer
        self.audience = audience
        self.algorithms = tuple(algorithms)
        self.leeway = leeway
        self._keys = dict(keys or {})
        self._client = PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> JwtVerifier | None:
        """The verifier the environment configures, or None when no JWKS is set."""
        env = os.environ if environ is None else environ
        jwks_file, jwks_url = env.get("JWT_JWKS_FILE"), env.get("JWT_JWKS_URL")
        if not jwks_file and not jwks_url:
            return None
        algorithms = tuple(
            a.strip() for a in env.get("JWT_ALGORITHMS", ",".join(PINNED_ALGORITHMS)).split(",")
        )
        keys = keys_from_jwks(json.loads(Path(jwks_file).read_text())) if jwks_file else None
        return cls(
            issuer=env.get("JWT_ISSUER", ""),
            audience=env.get("JWT_AUDIENCE", ""),
            keys=keys,
            jwks_url=jwks_url or None,
            algorithms=algorithms,
        )

    def _key(self, kid: str | None, alg: str) -> Any:
        key: PyJWK | None
        if self._client is not None:
            if not kid:
                raise InvalidToken("token has no key id")
            try:
                key = self._client.get_signing_key(kid)
            except jwt.PyJWKClientError as exc:
                raise InvalidToken("unknown key id") from exc
        elif kid:
            key = self._keys.get(kid)
        else:  # no kid: acceptable only when the set holds exactly one key
            key = next(iter(self._keys.values())) if len(self._keys) == 1 else None
        if key is None:
            raise InvalidToken("unknown key id")
        if key.key_type != _KEY_TYPES[alg]:
            raise InvalidToken("key type does not match the algorithm")
        return key.key

    def verify(self, token: str) -> Principal:
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("token too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        alg = header.get("alg")
        if alg not in self.algorithms:  # `none` and HS* never are
            raise InvalidToken("algorithm not allowed")
        key = self._key(header.get("kid"), alg)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from exc
        return principal_from_claims(claims)


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    org_id = claims.get("org_id") or claims.get("sub")
    role = claims.get("role")
    partnership = claims.get("partnership", "")
    if not isinstance(org_id, str) or not org_id or len(org_id) > 64:
        raise InvalidToken("token names no organisation")
    if role not in _ROLES:
        raise InvalidToken("token names no known role")
    if not isinstance(partnership, str) or len(partnership) > 64:
        raise InvalidToken("token's partnership is not a short string")
    return Principal(org_id=org_id, role=role, partnership=partnership)


def keys_from_jwks(jwks: Mapping[str, Any]) -> dict[str, PyJWK]:
    """The set's asymmetric keys by `kid`; symmetric (`oct`) keys are refused outright, so a
    configuration mistake cannot turn on HMAC verification."""
    keys: dict[str, PyJWK] = {}
    for n, data in enumerate(jwks.get("keys", [])):
        if data.get("kty") == "oct":
            raise ValueError("symmetric keys are not accepted in the JWKS")
        if data.get("alg") and data["alg"] not in PINNED_ALGORITHMS:
            raise ValueError(f"key {n} names an algorithm outside {PINNED_ALGORITHMS}")
        keys[str(data.get("kid", n))] = PyJWK(data)
    if not keys:
        raise ValueError("the JWKS holds no keys")
    return keys
