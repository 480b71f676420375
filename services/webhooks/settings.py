"""Configuration of the webhooks service (environment variables ROSCA_WEBHOOKS_*)."""

import json
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from services.runtime.settings import ServiceSettings
from services.runtime.stripe_client import StripeSettings

# Two at once: the old and the new secret while an endpoint's secret is being rolled.
MAX_ACTIVE_SECRETS = 2

SigningSecrets = Annotated[list[SecretStr], NoDecode]


class WebhooksSettings(ServiceSettings, StripeSettings):
    """Stripe's settings are the runtime's (``STRIPE_REQUESTS_PER_SECOND``, the budget backfill
    shares with the other services, included); only backfill calls Stripe."""

    model_config = SettingsConfigDict(env_prefix="ROSCA_WEBHOOKS_", extra="ignore", frozen=True)

    http_port: int = 8104
    platform_signing_secrets: SigningSecrets = Field(
        default_factory=list,
        max_length=MAX_ACTIVE_SECRETS,
        description="Signing secret(s) (whsec_…) of the platform endpoint, comma-separated or a JSON "
        "list; two during a rotation. No default: while empty, the endpoint answers 503.",
    )
    connect_signing_secrets: SigningSecrets = Field(
        default_factory=list,
        max_length=MAX_ACTIVE_SECRETS,
        description="Signing secret(s) (whsec_…) of the Connect endpoint, comma-separated or a JSON "
        "list; two during a rotation. No default: while empty, the endpoint answers 503.",
    )
    signature_tolerance_seconds: int = Field(
        default=300,
        ge=1,
        le=3_600,
        description="How far a signature's timestamp may lie in the past or the future (wall clock).",
    )
    max_body_bytes: int = Field(
        default=262_144,
        ge=1_024,
        le=900_000,
        description="Largest body accepted; larger ones are refused unread (below NATS's 1 MB payload cap).",
    )
    expected_livemode: bool = Field(
        default=False, description="Accept only events whose livemode is this (false: test mode)."
    )
    operator_token: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="Bearer token of the operator endpoints (replay, backfill), at least 16 "
        "characters. No default: while unset, they answer 503.",
    )
    stripe_api_key: SecretStr | None = Field(
        default=None,
        description="Stripe secret or restricted key (events read) for backfill. No default: while "
        "unset, backfill answers 503.",
    )
    ingest_timeout_seconds: float = Field(
        default=1.5,
        gt=0,
        le=10,
        description="Longest a delivery waits on Postgres and JetStream before answering 503.",
    )
    sweep_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often stored but unpublished events are looked for."
    )
    sweep_grace_seconds: float = Field(
        default=5.0,
        ge=0,
        description="Age an unpublished event must reach before the sweep publishes it (its own "
        "request is normally still doing so).",
    )

    @field_validator("platform_signing_secrets", "connect_signing_secrets", mode="before")
    @classmethod
    def _list_from_text(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]

    @field_validator("platform_signing_secrets", "connect_signing_secrets")
    @classmethod
    def _no_blank_secret(cls, secrets: list[SecretStr]) -> list[SecretStr]:
        if any(not secret.get_secret_value().strip() for secret in secrets):
            raise ValueError("a signing secret cannot be blank")
        return secrets

    # Named as StripeSettings' validator, it replaces that one: stripe_api_key must stay listed.
    @field_validator("operator_token", "stripe_api_key", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        return None if value == "" else value
