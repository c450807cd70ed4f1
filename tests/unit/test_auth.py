"""Tokens: static ones compared in constant time, JWTs verified as RFC 8725 asks."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from runtime.auth import Authenticator, StaticTokens, allow, load_tokens
from runtime.jwt_tokens import InvalidToken, JwtVerifier, keys_from_jwks
from runtime.principal import Principal

ISSUER, AUDIENCE = "https://idp.example.test", "work-brokerage"
P01 = Principal("P-01", "provider", "cheshire-warrington")


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def _jwk(key: Any, kid: str) -> dict[str, Any]:
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        data = json.loads(RSAAlgorithm.to_jwk(public))
    elif isinstance(public, ec.EllipticCurvePublicKey):
        data = json.loads(ECAlgorithm.to_jwk(public))
    else:
        data = json.loads(OKPAlgorithm.to_jwk(public))
    return {**data, "kid": kid}


@pytest.fixture(scope="module")
def jwks(rsa_key: Any, ec_key: Any, ed_key: Any) -> dict[str, Any]:
    return {"keys": [_jwk(rsa_key, "rsa-1"), _jwk(ec_key, "ec-1"), _jwk(ed_key, "ed-1")]}


@pytest.fixture
def verifier(jwks: dict[str, Any]) -> JwtVerifier:
    return JwtVerifier(issuer=ISSUER, audience=AUDIENCE, keys=keys_from_jwks(jwks))


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "org_id": "P-01",
        "role": "provider",
        "partnership": "cheshire-warrington",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(key: Any, alg: str, kid: str, **claims: Any) -> str:
    return jwt.encode(_claims(**claims), key, algorithm=alg, headers={"kid": kid})


@pytest.mark.parametrize(
    ("fixture", "alg", "kid"),
    [("rsa_key", "RS256", "rsa-1"), ("ec_key", "ES256", "ec-1"), ("ed_key", "EdDSA", "ed-1")],
)
def test_a_token_signed_by_a_key_of_the_set_maps_its_claims_to_the_principal(
    verifier: JwtVerifier, request: pytest.FixtureRequest, fixture: str, alg: str, kid: str
) -> None:
    token = _sign(request.getfixturevalue(fixture), alg, kid)
    assert verifier.verify(token) == P01


def test_national_operations_and_sub_as_org(verifier: JwtVerifier, rsa_key: Any) -> None:
    token = _sign(rsa_key, "RS256", "rsa-1", org_id=None, sub="OPS", role="operations",
                  partnership="*")  # fmt: skip
    principal = verifier.verify(token)
    assert principal.org_id == "OPS" and principal.national


@pytest.mark.parametrize(
    ("claims", "check"),
    [
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"exp": None}, "MissingRequiredClaimError"),
        ({"iss": "https://evil.example"}, "InvalidIssuerError"),
        ({"iss": None}, "MissingRequiredClaimError"),
        ({"aud": "another-service"}, "InvalidAudienceError"),
        ({"aud": None}, "MissingRequiredClaimError"),
        ({"nbf": int(time.time()) + 3600}, "ImmatureSignatureError"),
        ({"role": "admin"}, "no known role"),
        ({"org_id": None}, "no organisation"),
    ],
)
def test_claims_that_fail_are_refused(
    verifier: JwtVerifier, rsa_key: Any, claims: dict[str, Any], check: str
) -> None:
    with pytest.raises(InvalidToken, match=check):
        verifier.verify(_sign(rsa_key, "RS256", "rsa-1", **claims))


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(signature)]
    )


def test_alg_none_is_refused(verifier: JwtVerifier) -> None:
    token = _unsigned({"alg": "none", "kid": "rsa-1"}, _claims())
    with pytest.raises(InvalidToken, match="algorithm not allowed"):
        verifier.verify(token)


def test_hmac_with_the_public_key_as_secret_is_refused(verifier: JwtVerifier, rsa_key: Any) -> None:
    # The classic algorithm confusion: sign HS256 with the PEM of the public key.
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import hashlib
    import hmac

    header = {"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}
    unsigned = _unsigned(header, _claims()).rsplit(".", 1)[0]
    mac = hmac.new(pem, unsigned.encode(), hashlib.sha256).digest()
    token = unsigned + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    with pytest.raises(InvalidToken, match="algorithm not allowed"):
        verifier.verify(token)


def test_a_key_of_another_family_than_the_algorithm_is_refused(
    verifier: JwtVerifier, ec_key: Any
) -> None:
    token = _sign(ec_key, "ES256", "rsa-1")  # names the RSA key
    with pytest.raises(InvalidToken, match="key type"):
        verifier.verify(token)


def test_unknown_kid_foreign_key_and_tampering_are_refused(
    verifier: JwtVerifier, rsa_key: Any
) -> None:
    with pytest.raises(InvalidToken, match="unknown key id"):
        verifier.verify(_sign(rsa_key, "RS256", "rsa-9"))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidToken, match="InvalidSignatureError"):
        verifier.verify(_sign(stranger, "RS256", "rsa-1"))
    token = _sign(rsa_key, "RS256", "rsa-1")
    head, _, signature = token.split(".")
    forged = _unsigned({"alg": "RS256", "kid": "rsa-1"}, _claims(role="operations"))
    with pytest.raises(InvalidToken):
        verifier.verify(".".join([head, forged.split(".")[1], signature]))


def test_configuration_refuses_symmetric_keys_unpinned_algorithms_and_missing_audience(
    jwks: dict[str, Any],
) -> None:
    with pytest.raises(ValueError, match="symmetric"):
        keys_from_jwks({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]})
    with pytest.raises(ValueError, match="subset"):
        JwtVerifier(issuer=ISSUER, audience=AUDIENCE, keys=keys_from_jwks(jwks),
                    algorithms=("HS256",))  # fmt: skip
    with pytest.raises(ValueError, match="required"):
        JwtVerifier(issuer=ISSUER, audience="", keys=keys_from_jwks(jwks))


def test_the_environment_configures_jwts_beside_the_static_tokens(
    tmp_path: Path, jwks: dict[str, Any], rsa_key: Any
) -> None:
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    (tmp_path / "tokens.json").write_text(
        json.dumps({"static-token-0001": {"org_id": "EB-01", "role": "employer_brokerage"}})
    )
    env = {"JWT_JWKS_FILE": str(tmp_path / "jwks.json"), "JWT_ISSUER": ISSUER,
           "JWT_AUDIENCE": AUDIENCE}  # fmt: skip
    auth = load_tokens(tmp_path / "tokens.json", env)
    assert auth.principal("static-token-0001") == Principal("EB-01", "employer_brokerage", "")
    assert auth.principal(_sign(rsa_key, "RS256", "rsa-1")) == P01
    assert auth.principal("static-token-0002") is None
    assert auth.principal("a.b.c") is None
    jwt_only = load_tokens(tmp_path / "absent.json", env)
    assert jwt_only.principal("static-token-0001") is None
    assert load_tokens(tmp_path / "tokens.json", {}).jwt is None


def test_static_tokens_match_by_comparing_every_digest() -> None:
    tokens = StaticTokens({"alpha-token": P01, "beta-token": Principal("OPS", "operations", "*")})
    assert tokens.match("alpha-token") == P01
    assert tokens.match("beta-token").org_id == "OPS"  # type: ignore[union-attr]
    assert tokens.match("alpha-toke") is None
    assert tokens.match("") is None
    assert tokens.match("\udcff") is None  # not encodable as UTF-8: no crash


def test_routes_answer_401_for_a_bad_jwt_and_accept_a_good_one(
    verifier: JwtVerifier, rsa_key: Any
) -> None:
    app = FastAPI()
    app.state.tokens = Authenticator(StaticTokens({}), verifier)

    @app.get("/who")
    def who(principal: Principal = Depends(allow("provider"))) -> dict[str, str]:  # noqa: B008
        return {"org_id": principal.org_id}

    client = TestClient(app)
    good = _sign(rsa_key, "RS256", "rsa-1")
    assert client.get("/who", headers={"Authorization": f"Bearer {good}"}).json() == {
        "org_id": "P-01"
    }
    expired = _sign(rsa_key, "RS256", "rsa-1", exp=int(time.time()) - 3600)
    assert client.get("/who", headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    ops = _sign(rsa_key, "RS256", "rsa-1", role="operations")
    assert client.get("/who", headers={"Authorization": f"Bearer {ops}"}).status_code == 403
