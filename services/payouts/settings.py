"""Configuration of the payouts service (environment variables ROSCA_PAYOUTS_*)."""

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from services.runtime.member_tokens import MemberTokenSettings
from services.runtime.settings import ServiceSettings
from services.runtime.stripe_client import StripeSettings


class PayoutsSettings(ServiceSettings, MemberTokenSettings, StripeSettings):
    """The runtime's settings, member tokens (`ROSCA_PAYOUTS_JWT_*`) and the Stripe client
    (`ROSCA_PAYOUTS_STRIPE_*`)."""

    model_config = SettingsConfigDict(env_prefix="ROSCA_PAYOUTS_", extra="ignore", frozen=True)

    http_port: int = 8103
    first_payout_hold_business_days: int = Field(
        default=0,
        ge=0,
        le=30,
        description="A recipient's first pot waits this many BECS business days after their payout "
        "account became ready (0: no wait).",
    )
    operator_token: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="Bearer token of the operator routes (at least 16 characters). No default: while "
        "unset, they answer 503.",
    )

    @field_validator("operator_token", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        return None if value == "" else value
