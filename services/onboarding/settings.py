"""Configuration of the onboarding service (environment variables ROSCA_ONBOARDING_*)."""

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.settings import ServiceSettings

ENV_PREFIX = "ROSCA_ONBOARDING_"
MIN_SECRET_LENGTH = 32


class TokenSettings(BaseSettings):
    """How member tokens are verified (and, in development, minted): the service's and the CLI's."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    jwt_hs256_secret: SecretStr | None = Field(
        default=None,
        description="Development only: tokens signed HS256 with this secret (at least 32 characters) "
        "are accepted, and `mint-token` signs with it. No default.",
    )
    jwt_jwks_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Production: the identity provider's JWKS URL; RS256/ES256 tokens signed by one of "
        "its keys are accepted. No default. With neither this nor the secret, the API answers 503.",
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


class OnboardingSettings(ServiceSettings, TokenSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    http_port: int = 8101
    stripe_api_key: SecretStr = Field(
        min_length=1,
        description="Stripe secret key (sk_…) of the platform account. No default: it is a secret.",
    )
    stripe_api_base_url: str = Field(
        default="https://api.stripe.com",
        pattern=r"^https?://",
        description="Base URL of the Stripe API (the simulator's URL in development).",
    )
    stripe_max_network_retries: int = Field(
        default=2,
        ge=0,
        le=5,
        description="Retries of a Stripe request that failed on the network or with a 5xx (safe: every "
        "write carries its idempotency key).",
    )
    payout_onboarding_return_url: str = Field(
        default="http://localhost:3000/payout-account/done",
        pattern=r"^https?://",
        description="The frontend page Stripe sends a member to after the payout-account form "
        "(readiness still waits for Stripe's account.updated).",
    )
    payout_onboarding_refresh_url: str = Field(
        default="http://localhost:3000/payout-account/refresh",
        pattern=r"^https?://",
        description="The frontend page Stripe sends a member to when their onboarding link was used "
        "or expired; it asks for a new link.",
    )
