"""Shared fixtures: one real nats-server and one real Postgres for the run; unique names per test."""

from collections.abc import AsyncIterator, Iterator
from uuid import uuid4

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from tests.infrastructure import NatsServer, fresh_database, postgres_server, running_nats


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    with running_nats() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def database_url(postgres_admin_url: str) -> Iterator[str]:
    with fresh_database(postgres_admin_url) as url:
        yield url


@pytest.fixture
def namespace() -> str:
    """A unique prefix for this test's subjects, streams, durables and buckets."""
    return f"t{uuid4().hex[:10]}"


@pytest.fixture
async def nats_client(nats_server: NatsServer) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_server.url, connect_timeout=2)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def js(nats_client: NatsClient) -> JetStreamContext:
    return nats_client.jetstream()
