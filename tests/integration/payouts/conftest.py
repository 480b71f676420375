"""One Stripe simulator for the package; a payouts service per test, in its own namespace and
database, on a simulated clock the test may move."""

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import pytest

from services.payouts.main import create_app
from services.runtime.clock import CLOCK_BUCKET, set_simulated_clock
from services.runtime.db import Database
from services.runtime.naming import Namespace
from services.runtime.streams import StreamSettings, provision_streams
from tests.infrastructure import NatsServer, fresh_database
from tests.integration.onboarding.support import serving
from tests.integration.payouts.support import PayoutsWiring, payouts_settings
from tests.integration.stripe_sim.stripe_sim_harness import RunningSimulator, start_simulator


@pytest.fixture(scope="package")
def sim() -> Iterator[RunningSimulator]:
    running = start_simulator()
    yield running
    running.stop()


@pytest.fixture
async def stack(
    sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str
) -> AsyncIterator[PayoutsWiring]:
    async with payouts_stack(sim, nats_server, postgres_admin_url) as running:
        yield running


@pytest.fixture
async def held_stack(
    sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str
) -> AsyncIterator[PayoutsWiring]:
    """First pots wait one BECS business day after the recipient's account became ready."""
    async with payouts_stack(
        sim, nats_server, postgres_admin_url, first_payout_hold_business_days=1
    ) as running:
        yield running


@contextlib.asynccontextmanager
async def payouts_stack(
    sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str, **overrides: Any
) -> AsyncIterator[PayoutsWiring]:
    namespace = f"t{uuid.uuid4().hex[:10]}"
    client = await nats.connect(nats_server.url)
    js = client.jetstream()
    await provision_streams(js, Namespace(namespace), StreamSettings())
    await set_simulated_clock(
        js, datetime.now(UTC) + timedelta(seconds=1), bucket=Namespace(namespace).bucket(CLOCK_BUCKET)
    )
    with fresh_database(postgres_admin_url) as database_url:
        settings = payouts_settings(
            database_url, nats_server.url, namespace, sim, clock="simulated", **overrides
        )
        database = Database(database_url)
        with serving(create_app(settings), settings.http_port) as service:
            yield PayoutsWiring(sim, js, namespace, database, base_url=service.base_url)
        await database.dispose()
    await client.close()
