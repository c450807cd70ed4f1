"""Bearer tokens: each maps to one organisation acting in one role (see the contract).

Two kinds, both optional:
- static tokens from `TOKENS_FILE` (`deploy/local/dev-tokens.json` in development; never ship
  that file in an image), compared in constant time against every token known, so neither the
  answer's timing nor a dict's hashing reveals how much of a guess was right;
- signed JWTs verified against a JWKS (`runtime/jwt_tokens.py`), when the environment sets one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated

import structlog
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from runtime.jwt_tokens import InvalidToken, JwtVerifier
from runtime.principal import Principal, Role

log = structlog.get_logger(__name__)

_bearer = HTTPBearer(
    auto_error=False,
    description="A signed JWT (JWKS from JWT_JWKS_FILE/JWT_JWKS_URL) or, in development, a "
    "token from deploy/local/dev-tokens.json",
)


def _digest(token: str) -> bytes:
    # Equal-length digests: compare_digest's time then depends on neither token's length.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class StaticTokens:
    """Opaque tokens, looked up without ever using the secret as a key."""

    def __init__(self, tokens: Mapping[str, Principal]) -> None:
        self._entries = [(_digest(t), p) for t, p in tokens.items()]

    def __len__(self) -> int:
        return len(self._entries)

    def match(self, token: str) -> Principal | None:
        candidate = _digest(token)
        found: Principal | None = None
        for digest, principal in self._entries:  # every entry, whatever matched before
            if hmac.compare_digest(digest, candidate):
                found = principal
        return found


class Authenticator:
    """Who a bearer token names: a static token, else a JWT; None if neither accepts it."""

    def __init__(self, static: StaticTokens, jwt: JwtVerifier | None = None) -> None:
        self.static = static
        self.jwt = jwt

    def principal(self, token: str) -> Principal | None:
        found = self.static.match(token)
        if found is not None or self.jwt is None or token.count(".") != 2:
            return found
        try:
            return self.jwt.verify(token)
        except InvalidToken as exc:
            log.info("auth.jwt_refused", check=str(exc))  # the check, never the token
            return None

    # Kept so code that treated the tokens as a mapping goes on working.
    def get(self, token: str) -> Principal | None:
        return self.principal(token)


def read_static_tokens(path: Path) -> dict[str, Principal]:
    """`{"<token>": {"org_id", "role", "partnership"}}` as the contract shapes it.

    A token without a partnership belongs to none and sees no partnership's records; only an
    explicit `"*"` (national operations) sees them all.
    """
    raw = json.loads(path.read_text())
    return {
        token: Principal(org_id=v["org_id"], role=v["role"], partnership=v.get("partnership", ""))
        for token, v in raw.items()
    }


def load_tokens(path: Path | None, environ: Mapping[str, str] | None = None) -> Authenticator:
    """The service's authenticator: static tokens from `path` if that file exists (none
    otherwise, e.g. in a deployment that uses JWTs only) and JWTs if the environment sets a
    JWKS. A JWT configuration that is set but wrong stops the service at start."""
    static = read_static_tokens(path) if path is not None and path.is_file() else {}
    verifier = JwtVerifier.from_env(environ)
    if not static and verifier is None:
        log.warning("auth.no_tokens", hint="set TOKENS_FILE or JWT_JWKS_FILE/JWT_JWKS_URL")
    return Authenticator(StaticTokens(static), verifier)


def _authenticator(request: Request) -> Authenticator:
    tokens = request.app.state.tokens
    if isinstance(tokens, Authenticator):
        return tokens
    authenticator = Authenticator(StaticTokens(tokens))  # a plain mapping (tests set one)
    request.app.state.tokens = authenticator
    return authenticator


def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    principal = _authenticator(request).principal(credentials.credentials)
    if principal is None:
        raise HTTPException(401, "unknown token", headers={"WWW-Authenticate": "Bearer"})
    return principal


def allow(*roles: Role) -> Callable[..., Principal]:
    """A dependency that admits only these roles (403 for any other, 401 without a token)."""

    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            raise HTTPException(403, f"role {principal.role!r} may not do this")
        return principal

    return dependency
