"""Configuration of the scheduler service (environment variables ROSCA_SCHEDULER_*)."""

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings


class SchedulerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROSCA_SCHEDULER_", extra="ignore", frozen=True)

    http_port: int = 8105
    operator_token: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="Bearer token of the operator view of timers (at least 16 characters). "
        "No default: while unset, the view answers 503.",
    )
    firing_batch_size: int = Field(
        default=500, ge=1, le=5_000, description="Due timers fired in one transaction."
    )
    firing_idle_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Longest the firing loop sleeps without a wake-up: the safety net should a "
        "NOTIFY or a clock change be missed.",
    )
    metrics_refresh_seconds: float = Field(
        default=5.0, gt=0, description="How often the timer counts in /metrics are recounted."
    )

    @field_validator("operator_token", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        return None if value == "" else value
