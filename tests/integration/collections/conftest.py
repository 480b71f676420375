"""One Stripe simulator for the package; a collections service per test, in its own namespace and
database, so each test chooses which messages reach it."""

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import nats
import pytest

from services.collections.main import create_app
from services.runtime.db import Database
from services.runtime.naming import Namespace
from services.runtime.streams import StreamSettings, provision_streams
from tests.infrastructure import NatsServer, fresh_database
from tests.integration.collections.support import Stack, collections_settings
from tests.integration.onboarding.support import serving
from tests.integration.stripe_sim.stripe_sim_harness import RunningSimulator, start_simulator


@pytest.fixture(scope="package")
def sim() -> Iterator[RunningSimulator]:
    running = start_simulator()
    yield running
    running.stop()


@pytest.fixture
async def stack(
    sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str
) -> AsyncIterator[Stack]:
    namespace = f"t{uuid.uuid4().hex[:10]}"
    client = await nats.connect(nats_server.url)
    js = client.jetstream()
    await provision_streams(js, Namespace(namespace), StreamSettings())
    with fresh_database(postgres_admin_url) as database_url:
        settings = collections_settings(database_url, nats_server.url, namespace, sim)
        database = Database(database_url)
        with contextlib.ExitStack() as services:
            service = services.enter_context(serving(create_app(settings), settings.http_port))
            yield Stack(sim, service, js, namespace, database)
        await database.dispose()
    await client.close()
