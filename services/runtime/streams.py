"""Declares the streams and the clock bucket from ``contracts/``: idempotent, run once at start-up.

Consumers never call this; ``rosca streams provision`` (and ``rosca up``) do.
"""

import logging
from dataclasses import dataclass
from typing import Literal

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, KeyValueConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BucketNotFoundError, NotFoundError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.streams import ALL_STREAMS, StreamDefinition
from services.runtime.clock import CLOCK_BUCKET
from services.runtime.naming import Namespace

log = logging.getLogger(__name__)

Outcome = Literal["created", "updated", "unchanged"]


class StreamSettings(BaseSettings):
    """Limits and durability of every stream (``ROSCA_STREAMS_*``)."""

    model_config = SettingsConfigDict(env_prefix="ROSCA_STREAMS_", extra="ignore", frozen=True)

    replicas: int = Field(default=1, ge=1, le=5, description="Copies of each stream (3 in a cluster).")
    duplicate_window_seconds: float = Field(
        default=120.0, gt=0, description="How long JetStream drops a repeated Nats-Msg-Id."
    )
    max_age_days: float = Field(default=400.0, gt=0, description="How long messages are kept.")
    max_bytes: int = Field(default=-1, ge=-1, description="Size limit of each stream; -1 = none.")


@dataclass(frozen=True)
class ProvisionResult:
    name: str
    outcome: Outcome


def stream_config(
    definition: StreamDefinition, namespace: Namespace, settings: StreamSettings
) -> StreamConfig:
    return StreamConfig(
        name=namespace.stream(definition.name),
        description=definition.description,
        subjects=[namespace.subject(subject) for subject in definition.subjects],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=settings.replicas,
        duplicate_window=settings.duplicate_window_seconds,
        max_age=settings.max_age_days * 86_400,
        max_bytes=settings.max_bytes,
        discard=DiscardPolicy.OLD,
    )


async def provision_streams(
    js: JetStreamContext,
    namespace: Namespace,
    settings: StreamSettings,
    definitions: tuple[StreamDefinition, ...] = ALL_STREAMS,
) -> list[ProvisionResult]:
    results = [
        ProvisionResult(
            namespace.stream(d.name),
            await _provision_stream(js, stream_config(d, namespace, settings)),
        )
        for d in definitions
    ]
    results.append(await _provision_clock_bucket(js, namespace, settings))
    return results


async def _provision_stream(js: JetStreamContext, wanted: StreamConfig) -> Outcome:
    assert wanted.name is not None
    try:
        current = (await js.stream_info(wanted.name)).config
    except NotFoundError:
        await js.add_stream(wanted)
        log.info("stream created", extra={"stream": wanted.name})
        return "created"
    if _managed_fields(current) == _managed_fields(wanted):
        return "unchanged"
    await js.update_stream(wanted)
    log.info("stream updated", extra={"stream": wanted.name})
    return "updated"


def _managed_fields(config: StreamConfig) -> tuple[object, ...]:
    return (
        sorted(config.subjects or []),
        config.description,
        config.num_replicas,
        config.duplicate_window,
        config.max_age,
        config.max_bytes,
    )


async def _provision_clock_bucket(
    js: JetStreamContext, namespace: Namespace, settings: StreamSettings
) -> ProvisionResult:
    name = namespace.bucket(CLOCK_BUCKET)
    try:
        await js.key_value(name)
        return ProvisionResult(f"KV_{name}", "unchanged")
    except BucketNotFoundError:
        await js.create_key_value(
            KeyValueConfig(
                bucket=name,
                description="The shared simulated clock",
                history=5,
                storage=StorageType.FILE,
                replicas=settings.replicas,
            )
        )
        return ProvisionResult(f"KV_{name}", "created")
