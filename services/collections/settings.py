"""Configuration of the collections service (environment variables ROSCA_COLLECTIONS_*)."""

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from services.runtime.member_tokens import MemberTokenSettings
from services.runtime.settings import ServiceSettings
from services.runtime.stripe_client import StripeSettings


class CollectionsSettings(ServiceSettings, MemberTokenSettings, StripeSettings):
    """The runtime's settings, member tokens (`ROSCA_COLLECTIONS_JWT_*`) and the Stripe client
    (`ROSCA_COLLECTIONS_STRIPE_*`): the edge is ready for member routes and Stripe calls."""

    model_config = SettingsConfigDict(env_prefix="ROSCA_COLLECTIONS_", extra="ignore", frozen=True)

    http_port: int = 8102
    operator_token: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="Bearer token of the operator view of stuck cycles (at least 16 characters). "
        "No default: while unset, the view answers 503.",
    )

    @field_validator("operator_token", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        return None if value == "" else value
