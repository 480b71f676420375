"""Renders the AsyncAPI document of every rosca subject with FastStream."""

import json
from typing import Any

from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI

from contracts.catalog import CHANNELS, Channel


def asyncapi_document(channels: tuple[Channel, ...] = CHANNELS) -> dict[str, Any]:
    # The broker is never connected: it only carries the declared publishers to the renderer.
    broker = NatsBroker()
    for channel in channels:
        broker.publisher(
            channel.subject,
            schema=channel.payload,
            title=channel.subject,
            description=f"{channel.description} Published by {channel.publisher}.",
        )
    specification = AsyncAPI(
        broker,
        title="rosca messages",
        version="1",
        description="Subjects, payloads and publishers of the rosca services on NATS JetStream.",
        schema_version="3.0.0",
    ).to_specification()
    document: dict[str, Any] = json.loads(specification.to_json())
    return document
