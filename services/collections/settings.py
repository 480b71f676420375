"""Configuration of the collections service (environment variables ROSCA_COLLECTIONS_*)."""

from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings


class CollectionsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROSCA_COLLECTIONS_", extra="ignore", frozen=True)

    http_port: int = 8102
