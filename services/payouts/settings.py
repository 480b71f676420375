"""Configuration of the payouts service (environment variables ROSCA_PAYOUTS_*)."""

from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings


class PayoutsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROSCA_PAYOUTS_", extra="ignore", frozen=True)

    http_port: int = 8103
