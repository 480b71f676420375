"""Who is calling: a member's bearer token (a JWT, OIDC style), verified with PyJWT.

Development signs tokens HS256 with a configured secret (``mint-token`` makes them); production
verifies RS256/ES256 tokens against the identity provider's JWKS. Either way the audience must
match, the issuer too when one is configured, and ``sub`` is the member id.

Token lifetimes are judged on the wall clock, not the service clock: the identity provider issues
them in real time, and a simulated clock days ahead must not expire every token in a demo.
"""

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import jwt

from services.onboarding.settings import TokenSettings

HS256: Final = "HS256"
JWKS_ALGORITHMS: Final = ("RS256", "ES256")
CLOCK_SKEW: Final = timedelta(seconds=30)
# A member id is also the correlation id of their messages (at most 200 characters there).
_MEMBER_ID: Final = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


class TokenRejectedError(Exception):
    """The request's token does not identify a member (answered 401)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class AuthenticationUnavailableError(Exception):
    """Tokens cannot be checked now: nothing configured, or the JWKS unreachable (answered 503)."""


@dataclass(frozen=True)
class Caller:
    member_id: str
    email: str | None = None
    name: str | None = None


class TokenVerifier:
    def __init__(self, settings: TokenSettings) -> None:
        self._settings = settings
        self._secret = settings.jwt_hs256_secret.get_secret_value() if settings.jwt_hs256_secret else None
        self._jwks = (
            jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True, lifespan=600, timeout=5)
            if settings.jwt_jwks_url
            else None
        )

    @property
    def configured(self) -> bool:
        return self._secret is not None or self._jwks is not None

    async def caller(self, token: str) -> Caller:
        claims = await self._verified_claims(token)
        member_id = claims.get("sub")
        if not isinstance(member_id, str) or not _MEMBER_ID.match(member_id):
            raise TokenRejectedError("invalid_token", "the token's sub is not a usable member id")
        return Caller(member_id, _text_claim(claims, "email"), _text_claim(claims, "name"))

    async def _verified_claims(self, token: str) -> dict[str, Any]:
        if not self.configured:
            raise AuthenticationUnavailableError("no token verification is configured")
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError:
            raise TokenRejectedError("invalid_token", "the bearer token is not a JWT") from None
        if algorithm == HS256 and self._secret is not None:
            key: Any = self._secret
            algorithms: tuple[str, ...] = (HS256,)
        elif algorithm in JWKS_ALGORITHMS and self._jwks is not None:
            key = await self._signing_key(token)
            algorithms = JWKS_ALGORITHMS
        else:
            raise TokenRejectedError("invalid_token", f"tokens signed with {algorithm!r} are not accepted")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(algorithms),
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                leeway=CLOCK_SKEW,
                options={"require": ["exp", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejectedError("token_expired", "the token has expired") from None
        except jwt.InvalidAudienceError:
            raise TokenRejectedError(
                "invalid_audience",
                f"the token is not for this API (audience {self._settings.jwt_audience!r})",
            ) from None
        except jwt.InvalidIssuerError:
            raise TokenRejectedError("invalid_issuer", "the token's issuer is not accepted") from None
        except jwt.InvalidSignatureError:
            raise TokenRejectedError("invalid_signature", "the token's signature does not verify") from None
        except jwt.MissingRequiredClaimError as error:
            raise TokenRejectedError("invalid_token", f"the token has no {error.claim!r} claim") from None
        except jwt.PyJWTError as error:
            raise TokenRejectedError("invalid_token", f"the token is not valid: {error}") from None
        return claims

    async def _signing_key(self, token: str) -> Any:
        assert self._jwks is not None
        try:
            # PyJWKClient fetches with urllib (blocking); its cache makes most calls instant.
            return (await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)).key
        except jwt.PyJWKClientConnectionError as error:
            raise AuthenticationUnavailableError(
                f"the identity provider's keys are unreachable: {error}"
            ) from None
        except jwt.PyJWTError as error:
            raise TokenRejectedError(
                "invalid_signature", f"no key of the identity provider fits: {error}"
            ) from None


def mint_token(
    settings: TokenSettings,
    member_id: str,
    *,
    lifetime: timedelta,
    issued_at: datetime,
    email: str | None = None,
    name: str | None = None,
) -> str:
    """A development token for ``member_id``, signed with the configured HS256 secret."""
    if settings.jwt_hs256_secret is None:
        raise AuthenticationUnavailableError("ROSCA_ONBOARDING_JWT_HS256_SECRET is not set")
    if not _MEMBER_ID.match(member_id):
        raise ValueError("a member id is 1 to 200 characters, without control characters")
    claims: dict[str, Any] = {
        "sub": member_id,
        "aud": settings.jwt_audience,
        "iat": int(issued_at.timestamp()),
        "exp": int((issued_at + lifetime).timestamp()),
    }
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if email:
        claims["email"] = email
    if name:
        claims["name"] = name
    return jwt.encode(claims, settings.jwt_hs256_secret.get_secret_value(), algorithm=HS256)


def _text_claim(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None
