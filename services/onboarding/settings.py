"""Configuration of the onboarding service (environment variables ROSCA_ONBOARDING_*)."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.runtime.member_tokens import MemberTokenSettings
from services.runtime.settings import ServiceSettings
from services.runtime.stripe_client import StripeSettings

ENV_PREFIX = "ROSCA_ONBOARDING_"


class TokenSettings(MemberTokenSettings):
    """How member tokens are verified (and, in development, minted): the service's and the CLI's."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)


class OnboardingSettings(ServiceSettings, TokenSettings, StripeSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    http_port: int = 8101
    # Onboarding cannot work without Stripe: required here, where other services may leave it unset.
    stripe_api_key: SecretStr = Field(
        min_length=1,
        description="Stripe secret key (sk_…) of the platform account. No default: it is a secret.",
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
