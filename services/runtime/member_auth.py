"""Who is calling: a member's bearer token (a JWT, OIDC style), verified with PyJWT, for any service.

Development signs tokens HS256 with a configured secret (``mint_token`` makes them); production
verifies RS256/ES256 tokens against the identity provider's JWKS. Either way the audience must
match, the issuer too when one is configured, and ``sub`` is the member id. A service takes member
tokens by adding ``MemberTokenSettings`` to its settings (``ROSCA_<SERVICE>_JWT_*``): the service
app then verifies with them, and a route asks for the member with ``CallerDep``. With nothing
configured, every member route answers 503: never open by accident.

Token lifetimes are judged on the wall clock, not the service clock: the identity provider issues
them in real time, and a simulated clock days ahead must not expire every token in a demo.
"""

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Final

import jwt
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from services.runtime.errors import ApiError

HS256: Final = "HS256"
JWKS_ALGORITHMS: Final = ("RS256", "ES256")
CLOCK_SKEW: Final = timedelta(seconds=30)
MIN_SECRET_LENGTH: Final = 32
# A member id is also the correlation id of their messages (at most 200 characters there).
_MEMBER_ID: Final = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


class MemberTokenSettings(BaseSettings):
    """How member tokens are verified (and, in development, minted). A service's settings class
    inherits it, and its ``env_prefix`` names the variables: ``ROSCA_<SERVICE>_JWT_HS256_SECRET``…"""

    jwt_hs256_secret: SecretStr | None = Field(
        default=None,
        description="Development only: tokens signed HS256 with this secret (at least 32 characters) "
        "are accepted, and `mint-token` signs with it. No default.",
    )
    jwt_jwks_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Production: the identity provider's JWKS URL; RS256/ES256 tokens signed by one of "
        "its keys are accepted. No default. With neither this nor the secret, member routes answer 503.",
    )
    jwt_audience: str = Field(default="rosca", min_length=1, description="The `aud` every token must carry.")
    jwt_issuer: str | None = Field(
        default=None, description="The `iss` every token must carry; unset: not checked."
    )

    @field_validator("jwt_hs256_secret", "jwt_jwks_url", "jwt_issuer", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("jwt_hs256_secret")
    @classmethod
    def _long_enough(cls, secret: SecretStr | None) -> SecretStr | None:
        # An HMAC key shorter than SHA-256's output makes tokens easier to forge.
        if secret is not None and len(secret.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters")
        return secret


class TokenRejectedError(ApiError):
    """The request's token does not identify a member (answered 401)."""

    def __init__(self, kind: str, message: str) -> None:
        challenge = f'Bearer error="invalid_token", error_description="{message}"'
        super().__init__(401, kind, message, headers={"WWW-Authenticate": challenge})


class AuthenticationUnavailableError(ApiError):
    """Tokens cannot be checked now: nothing configured, or the JWKS unreachable (answered 503)."""

    def __init__(self, message: str) -> None:
        super().__init__(503, "authentication_unavailable", message)


@dataclass(frozen=True)
class Caller:
    member_id: str
    email: str | None = None
    name: str | None = None


class TokenVerifier:
    def __init__(self, settings: MemberTokenSettings) -> None:
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
    settings: MemberTokenSettings,
    member_id: str,
    *,
    lifetime: timedelta,
    issued_at: datetime,
    email: str | None = None,
    name: str | None = None,
) -> str:
    """A development token for ``member_id``, signed with the configured HS256 secret."""
    if settings.jwt_hs256_secret is None:
        variable = f"{settings.model_config.get('env_prefix', '')}JWT_HS256_SECRET"
        raise AuthenticationUnavailableError(f"{variable} is not set")
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


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="memberToken",
    description="The member's token from the identity provider (a JWT); its `sub` is the member id.",
)


def install_member_auth(app: FastAPI, settings: MemberTokenSettings) -> None:
    """Let ``app``'s routes ask for the calling member (``CallerDep``), verified with ``settings``."""
    app.state.member_token_verifier = TokenVerifier(settings)


async def get_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    verifier: TokenVerifier | None = getattr(request.app.state, "member_token_verifier", None)
    if verifier is None or not verifier.configured:
        # Never open by accident: without a way to check tokens, nobody gets in.
        raise AuthenticationUnavailableError("no token verification is configured")
    if credentials is None:
        raise TokenRejectedError("missing_token", "send the member's token as Authorization: Bearer <jwt>")
    return await verifier.caller(credentials.credentials)


CallerDep = Annotated[Caller, Depends(get_caller)]
