"""Settings every service shares; each service subclasses it with its own env prefix."""

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Configuration of one service process. Subclasses set ``env_prefix`` (``ROSCA_<SERVICE>_``)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: str = Field(
        description="SQLAlchemy URL of this service's own database, "
        "e.g. postgresql+psycopg://user:password@127.0.0.1:5432/rosca_collections. "
        "No default: it may carry a password.",
    )
    nats_url: str = Field(default="nats://127.0.0.1:4222", description="NATS server URL(s), comma-separated.")
    namespace: str = Field(
        default="",
        pattern=r"^[a-z0-9_]*$",
        description="Prefix for every subject, stream and durable name, so several environments "
        "(or tests) can share one NATS server. Empty in a normal deployment.",
    )
    clock: Literal["system", "simulated"] = Field(
        default="system",
        description="system: wall-clock time. simulated: one shared clock kept in NATS KV, "
        "moved by `rosca clock advance`.",
    )
    http_host: str = Field(default="127.0.0.1", description="Interface the HTTP edge binds to.")
    http_port: int = Field(default=8000, ge=1, le=65535, description="Port of the HTTP edge.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    migrate_on_start: bool = Field(
        default=True, description="Apply this service's migrations at start-up (under a lock)."
    )
    consumer_max_deliver: int = Field(
        default=5, ge=1, description="Deliveries of one message before it is dead-lettered."
    )
    consumer_backoff_seconds: tuple[float, ...] = Field(
        default=(1.0, 5.0, 30.0, 120.0),
        description="Delay before redelivery after the 1st, 2nd, ... failure; the last repeats.",
    )
    consumer_ack_wait_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Time a consumer has to process a message before NATS redelivers it.",
    )
    consumer_batch_max_messages: int = Field(
        default=200,
        ge=1,
        le=1000,
        description="Messages a consumer whose handler takes batches applies in one transaction "
        "(1: one at a time, as every other consumer).",
    )
    consumer_batch_max_wait_seconds: float = Field(
        default=0.05,
        ge=0,
        description="How long such a consumer gives a batch that is not full to fill before applying it, "
        "when more than one message was waiting (a little latency for far fewer transactions; a lone "
        "message goes at once; 0: apply what is waiting at once).",
    )
    outbox_poll_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Safety-net poll of the outbox; normally the relay is woken at once by NOTIFY.",
    )
    outbox_batch_size: int = Field(default=200, ge=1, le=10_000)
    max_request_body_bytes: int = Field(
        default=1_048_576,
        ge=1_024,
        description="Largest request body the HTTP edge reads; a larger one is refused with 413 before "
        "it is read (declared) or as soon as it crosses the limit (streamed).",
    )

    @field_validator("database_url")
    @classmethod
    def _must_be_postgres(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgresql+psycopg://")):
            raise ValueError("expects a postgresql+psycopg:// URL")
        return value.replace("postgresql://", "postgresql+psycopg://", 1)
