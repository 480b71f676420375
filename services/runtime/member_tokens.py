"""Member tokens' settings and development minting: only PyJWT and pydantic, so a command-line tool
that mints a token loads no web framework (verification, with its HTTP edge, is ``member_auth``)."""

import re
from datetime import datetime, timedelta
from typing import Any, Final

import jwt
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

HS256: Final = "HS256"
MIN_SECRET_LENGTH: Final = 32
# A member id is also the correlation id of their messages (at most 200 characters there).
MEMBER_ID: Final = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


class SigningSecretMissingError(Exception):
    """No HS256 secret is configured, so no development token can be signed."""


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
        raise SigningSecretMissingError(f"{variable} is not set")
    if not MEMBER_ID.match(member_id):
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
