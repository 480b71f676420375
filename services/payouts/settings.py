"""Configuration of the payouts service (environment variables ROSCA_PAYOUTS_*)."""

from pydantic_settings import SettingsConfigDict

from services.runtime.member_tokens import MemberTokenSettings
from services.runtime.settings import ServiceSettings
from services.runtime.stripe_client import StripeSettings


class PayoutsSettings(ServiceSettings, MemberTokenSettings, StripeSettings):
    """The runtime's settings, member tokens (`ROSCA_PAYOUTS_JWT_*`) and the Stripe client
    (`ROSCA_PAYOUTS_STRIPE_*`): the edge is ready for member routes and Stripe calls."""

    model_config = SettingsConfigDict(env_prefix="ROSCA_PAYOUTS_", extra="ignore", frozen=True)

    http_port: int = 8103
