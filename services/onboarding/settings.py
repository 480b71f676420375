"""Configuration of the onboarding service (environment variables ROSCA_ONBOARDING_*)."""

from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings


class OnboardingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROSCA_ONBOARDING_", extra="ignore", frozen=True)

    http_port: int = 8101
