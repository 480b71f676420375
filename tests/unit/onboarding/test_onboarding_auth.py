"""Member tokens: HS256 in development, the identity provider's JWKS in production; what is refused."""

import json
import secrets
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr
from typer.testing import CliRunner

from services.onboarding.cli import app as cli
from services.onboarding.main import create_app
from services.onboarding.settings import OnboardingSettings, TokenSettings
from services.runtime.member_auth import (
    AuthenticationUnavailableError,
    Caller,
    TokenRejectedError,
    TokenVerifier,
)
from services.runtime.member_tokens import mint_token

SECRET = secrets.token_urlsafe(32)
# Tokens of parametrised cases are made at collection, which may be many minutes before they are
# verified on a loaded machine: "valid" ones live a day, so only the cases about time decide.
NOW = datetime.now(UTC)


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sub": "member-1",
        "aud": "rosca",
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(days=1)).timestamp()),
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def hs256(**changes: Any) -> str:
    return jwt.encode(claims(**changes), SECRET, algorithm="HS256")


def development(**settings: Any) -> TokenVerifier:
    return TokenVerifier(TokenSettings(jwt_hs256_secret=SecretStr(SECRET), **settings))


async def rejection(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(TokenRejectedError) as rejected:
        await verifier.caller(token)
    return rejected.value.kind


async def test_a_development_token_names_the_member_and_carries_their_claims() -> None:
    token = hs256(email="ada@example.com", name="Ada")
    assert await development().caller(token) == Caller("member-1", "ada@example.com", "Ada")


@pytest.mark.parametrize(
    ("token", "kind"),
    [
        (hs256(exp=int((NOW - timedelta(minutes=5)).timestamp())), "token_expired"),
        (jwt.encode(claims(), secrets.token_urlsafe(32), algorithm="HS256"), "invalid_signature"),
        (hs256(aud="another-api"), "invalid_audience"),
        (hs256(aud=None), "invalid_token"),
        (hs256(exp=None), "invalid_token"),
        (hs256(sub=None), "invalid_token"),
        (hs256(sub=""), "invalid_token"),
        (hs256(sub="a\nb"), "invalid_token"),
        (hs256(sub="x" * 201), "invalid_token"),
        (hs256(nbf=int((NOW + timedelta(hours=1)).timestamp())), "invalid_token"),
        (jwt.encode(claims(), "", algorithm="none"), "invalid_token"),
        ("a.b.c", "invalid_token"),
        ("", "invalid_token"),
    ],
    ids=[
        "expired",
        "another secret",
        "another audience",
        "no audience",
        "no expiry",
        "no sub",
        "empty sub",
        "control characters in sub",
        "sub too long",
        "not valid yet",
        "unsigned",
        "not a jwt",
        "empty",
    ],
)
async def test_a_token_that_does_not_prove_a_member_is_refused(token: str, kind: str) -> None:
    assert await rejection(development(), token) == kind


async def test_a_configured_issuer_must_match() -> None:
    verifier = development(jwt_issuer="https://id.example.com/")
    assert await rejection(verifier, hs256()) == "invalid_token"
    assert await rejection(verifier, hs256(iss="https://evil.example.com/")) == "invalid_issuer"
    assert (await verifier.caller(hs256(iss="https://id.example.com/"))).member_id == "member-1"


async def test_with_nothing_configured_no_token_is_accepted_and_the_api_says_it_is_unavailable() -> None:
    with pytest.raises(AuthenticationUnavailableError):
        await TokenVerifier(TokenSettings()).caller(hs256())


class Jwks:
    """The identity provider's key set, served on 127.0.0.1."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        body = json.dumps({"keys": [{**public, "kid": "key-1", "use": "sig", "alg": "RS256"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"

    def sign(self, key: Any = None, kid: str = "key-1", **changes: Any) -> str:
        return jwt.encode(claims(**changes), key or self.key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture(scope="module")
def jwks() -> Iterator[Jwks]:
    served = Jwks()
    yield served
    served.server.shutdown()


async def test_a_production_token_signed_by_the_identity_providers_key_is_accepted(jwks: Jwks) -> None:
    verifier = TokenVerifier(TokenSettings(jwt_jwks_url=jwks.url))
    assert (await verifier.caller(jwks.sign())).member_id == "member-1"
    assert await rejection(verifier, jwks.sign(aud="another-api")) == "invalid_audience"


async def test_a_production_verifier_refuses_other_keys_and_symmetric_tokens(jwks: Jwks) -> None:
    verifier = TokenVerifier(TokenSettings(jwt_jwks_url=jwks.url))
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert await rejection(verifier, jwks.sign(key=impostor)) == "invalid_signature"
    assert await rejection(verifier, jwks.sign(kid="unknown-key")) == "invalid_signature"
    # No HS256 secret configured: an HS256 token is refused, whatever it was signed with.
    assert await rejection(verifier, hs256()) == "invalid_token"


async def test_an_unreachable_key_set_makes_verification_unavailable_not_a_rejection() -> None:
    verifier = TokenVerifier(TokenSettings(jwt_jwks_url="http://127.0.0.1:9/jwks.json"))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(AuthenticationUnavailableError):
        await verifier.caller(jwt.encode(claims(), key, algorithm="RS256", headers={"kid": "k"}))


async def test_minted_tokens_verify_and_expire_after_their_lifetime() -> None:
    settings = TokenSettings(jwt_hs256_secret=SecretStr(SECRET), jwt_issuer="rosca-dev")
    now = datetime.now(UTC)
    token = mint_token(settings, "ada", lifetime=timedelta(minutes=5), issued_at=now, email="ada@example.com")
    assert await TokenVerifier(settings).caller(token) == Caller("ada", "ada@example.com", None)
    stale = mint_token(settings, "ada", lifetime=timedelta(minutes=5), issued_at=now - timedelta(hours=1))
    assert await rejection(TokenVerifier(settings), stale) == "token_expired"


async def test_the_mint_token_command_prints_a_token_the_service_accepts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ROSCA_ONBOARDING_JWT_HS256_SECRET", SECRET)
    monkeypatch.setenv("ROSCA_ONBOARDING_JWT_AUDIENCE", "rosca-local")
    result = CliRunner().invoke(cli, ["mint-token", "--sub", "alice", "--ttl", "2h", "--name", "Alice"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    verifier = TokenVerifier(TokenSettings())
    assert await verifier.caller(token) == Caller("alice", None, "Alice")
    lifetime = jwt.decode(token, options={"verify_signature": False})
    assert lifetime["exp"] - lifetime["iat"] == 7_200
    assert lifetime["aud"] == "rosca-local"


@pytest.mark.parametrize(
    ("environment", "arguments", "message"),
    [
        ({}, ["--sub", "alice"], "ROSCA_ONBOARDING_JWT_HS256_SECRET is not set"),
        ({"ROSCA_ONBOARDING_JWT_HS256_SECRET": "short"}, ["--sub", "alice"], "at least 32 characters"),
        (
            {"ROSCA_ONBOARDING_JWT_HS256_SECRET": SECRET},
            ["--sub", "alice", "--ttl", "soon"],
            "not a duration",
        ),
    ],
)
def test_the_mint_token_command_explains_what_it_lacks(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], arguments: list[str], message: str
) -> None:
    monkeypatch.delenv("ROSCA_ONBOARDING_JWT_HS256_SECRET", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["mint-token", *arguments])
    assert result.exit_code == 2
    assert message in result.output


async def test_without_any_way_to_check_tokens_every_route_answers_503() -> None:
    app = create_app(
        OnboardingSettings(
            database_url="postgresql://nobody@127.0.0.1:1/none", stripe_api_key=SecretStr("sk_x")
        )
    )
    routes = [
        (method.upper(), path.format(group_id=uuid.uuid4(), setup_intent_id="seti_x"))
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/onboarding/") and not path.endswith(("healthz", "readyz", "metrics"))
        for method in operations
    ]
    assert len(routes) == 17
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://onboarding"
    ) as client:
        for method, path in routes:
            for headers in ({}, {"Authorization": f"Bearer {hs256()}"}):
                answer = await client.request(method, path, headers=headers, json={})
                assert answer.status_code == 503, (method, path, answer.text)
                assert answer.json()["error"]["type"] == "authentication_unavailable"
