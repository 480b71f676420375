"""One Stripe simulator for the package; a collections service per test, in its own namespace and
database, so each test chooses which messages reach it. ``stack`` hears Stripe only through what a
test publishes; ``heard_stack`` stands behind the real webhook gateway, registered with the
simulator (simulator → gateway → JetStream → collections)."""

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import nats
import pytest

from rosca.stack.ports import free_port
from services.collections.main import create_app
from services.runtime.clock import CLOCK_BUCKET, set_simulated_clock
from services.runtime.db import Database
from services.runtime.naming import Namespace
from services.runtime.streams import StreamSettings, provision_streams
from services.webhooks.main import create_app as create_webhooks_app
from tests.infrastructure import NatsServer, fresh_database
from tests.integration.collections.support import (
    API_CLOCK_START,
    JWT_AUDIENCE,
    JWT_SECRET,
    OPERATOR_TOKEN,
    Stack,
    collections_settings,
)
from tests.integration.onboarding.support import serving
from tests.integration.stripe_sim.stripe_sim_harness import RunningSimulator, start_simulator
from tests.integration.webhooks.support import CONNECT_PATH, PLATFORM_PATH, webhooks_settings


@pytest.fixture(scope="package")
def sim() -> Iterator[RunningSimulator]:
    running = start_simulator()
    yield running
    running.stop()


# Stripe's webhooks under fire: half of them delivered twice, each up to 4 s late (so reordered);
# the same faults every run.
WEBHOOK_FAULTS: dict[str, Any] = {
    "fault_seed": 12,
    "fault_duplicate_percent": 50.0,
    "fault_out_of_order_window_seconds": 4.0,
}


@pytest.fixture(scope="package")
def faulty_sim() -> Iterator[RunningSimulator]:
    running = start_simulator(**WEBHOOK_FAULTS)
    yield running
    running.stop()


@pytest.fixture
async def stack(
    sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str
) -> AsyncIterator[Stack]:
    async with _collections_stack(sim, nats_server, postgres_admin_url, hears_stripe=False) as running:
        yield running


@pytest.fixture
async def heard_stack(
    sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str
) -> AsyncIterator[Stack]:
    async with _collections_stack(sim, nats_server, postgres_admin_url, hears_stripe=True) as running:
        yield running


@pytest.fixture
async def faulty_heard_stack(
    faulty_sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str
) -> AsyncIterator[Stack]:
    """As ``heard_stack``, behind a simulator with ``WEBHOOK_FAULTS``."""
    async with _collections_stack(faulty_sim, nats_server, postgres_admin_url, hears_stripe=True) as running:
        yield running


# Two deliveries a message, and no network retries of Stripe's own: failures show at once.
IMPATIENT: dict[str, Any] = {"consumer_max_deliver": 2, "stripe_max_network_retries": 0}


@pytest.fixture
async def impatient_stack(
    sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str
) -> AsyncIterator[Stack]:
    """Gives a message two deliveries, and Stripe no network retries of its own."""
    async with _collections_stack(
        sim,
        nats_server,
        postgres_admin_url,
        hears_stripe=False,
        **IMPATIENT,
    ) as running:
        yield running


@pytest.fixture
async def api_stack(
    sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str
) -> AsyncIterator[Stack]:
    """Takes member tokens and the operator token, on a simulated clock a test moves."""
    async with _collections_stack(
        sim,
        nats_server,
        postgres_admin_url,
        hears_stripe=False,
        clock_at=API_CLOCK_START,
        clock="simulated",
        jwt_hs256_secret=JWT_SECRET,
        jwt_audience=JWT_AUDIENCE,
        operator_token=OPERATOR_TOKEN,
    ) as running:
        yield running


@pytest.fixture
async def heard_api_stack(
    faulty_sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str
) -> AsyncIterator[Stack]:
    """As ``api_stack``, behind the real webhook gateway registered with a simulator whose webhooks
    come duplicated and reordered (``WEBHOOK_FAULTS``)."""
    async with _collections_stack(
        faulty_sim,
        nats_server,
        postgres_admin_url,
        hears_stripe=True,
        clock_at=API_CLOCK_START,
        clock="simulated",
        jwt_hs256_secret=JWT_SECRET,
        jwt_audience=JWT_AUDIENCE,
        operator_token=OPERATOR_TOKEN,
    ) as running:
        yield running


@pytest.fixture
async def slow_budget_stack(
    sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str
) -> AsyncIterator[Stack]:
    """A Stripe budget of 2 requests a second, and two deliveries a message, as ``impatient_stack``."""
    async with _collections_stack(
        sim,
        nats_server,
        postgres_admin_url,
        hears_stripe=False,
        **IMPATIENT,
        stripe_requests_per_second=2.0,
    ) as running:
        yield running


@pytest.fixture
async def impatient_simulated_stack(
    sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str
) -> AsyncIterator[Stack]:
    """As ``impatient_stack``, on the namespace's simulated clock, which a test moves."""
    async with _collections_stack(
        sim,
        nats_server,
        postgres_admin_url,
        hears_stripe=False,
        **IMPATIENT,
        clock="simulated",
    ) as running:
        yield running


@contextlib.asynccontextmanager
async def _collections_stack(
    sim: RunningSimulator,
    nats_server: NatsServer,
    postgres_admin_url: str,
    *,
    hears_stripe: bool,
    clock_at: datetime | None = None,
    **overrides: object,
) -> AsyncIterator[Stack]:
    namespace = f"t{uuid.uuid4().hex[:10]}"
    client = await nats.connect(nats_server.url)
    js = client.jetstream()
    await provision_streams(js, Namespace(namespace), StreamSettings())
    if clock_at is not None:
        await set_simulated_clock(js, clock_at, bucket=Namespace(namespace).bucket(CLOCK_BUCKET))
    with fresh_database(postgres_admin_url) as database_url, contextlib.ExitStack() as services:
        settings = collections_settings(database_url, nats_server.url, namespace, sim, **overrides)
        database = Database(database_url)
        if hears_stripe:
            services.enter_context(_gateway(sim, nats_server, postgres_admin_url, namespace))
        service = services.enter_context(serving(create_app(settings), settings.http_port))
        yield Stack(sim, js, namespace, database, service=service)
        await database.dispose()
    await client.close()


@contextlib.contextmanager
def _gateway(
    sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str, namespace: str
) -> Iterator[None]:
    """The webhook gateway, registered with the simulator as its platform and Connect endpoint
    for as long as the test runs."""
    port = free_port()
    stripe = sim.client()
    platform = stripe.v1.webhook_endpoints.create(
        {"url": f"http://127.0.0.1:{port}{PLATFORM_PATH}", "enabled_events": ["*"]}
    )
    connect = stripe.v1.webhook_endpoints.create(
        {"url": f"http://127.0.0.1:{port}{CONNECT_PATH}", "enabled_events": ["*"], "connect": True}
    )
    assert platform.secret
    assert connect.secret
    try:
        with fresh_database(postgres_admin_url) as gateway_database:
            settings = webhooks_settings(
                gateway_database,
                nats_server.url,
                namespace,
                http_port=port,
                platform_signing_secrets=[platform.secret],
                connect_signing_secrets=[connect.secret],
            )
            with serving(create_webhooks_app(settings), port):
                yield
    finally:
        stripe.v1.webhook_endpoints.delete(platform.id)
        stripe.v1.webhook_endpoints.delete(connect.id)
