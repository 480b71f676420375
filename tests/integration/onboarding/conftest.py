"""One Stripe simulator and two onboarding services for the package, shared by every test in it.

``stack`` hears Stripe through the real webhook gateway (simulator → gateway → JetStream →
onboarding); ``quiet_stack`` hears nothing but what a test publishes on its STRIPE stream, so
tests can deliver Stripe's events late, twice or out of order. Test data is unique per test.
"""

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import nats
import pytest

from rosca.stack.ports import free_port
from services.onboarding.main import create_app as create_onboarding_app
from services.runtime.db import Database
from services.runtime.naming import Namespace
from services.runtime.streams import StreamSettings, provision_streams
from services.webhooks.main import create_app as create_webhooks_app
from services.webhooks.settings import WebhooksSettings
from tests.infrastructure import NatsServer, fresh_database
from tests.integration.onboarding.support import (
    Stack,
    new_jwt_secret,
    onboarding_settings,
    serving,
)
from tests.integration.stripe_sim.stripe_sim_harness import RunningSimulator, start_simulator
from tests.integration.webhooks.support import CONNECT_PATH, PLATFORM_PATH, webhooks_settings


@pytest.fixture(scope="package")
def sim() -> Iterator[RunningSimulator]:
    running = start_simulator(webhook_retry_delays_seconds=(1.0, 2.0, 4.0))
    yield running
    running.stop()


@pytest.fixture(scope="package")
async def stack(
    sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str
) -> AsyncIterator[Stack]:
    async with _onboarding_stack(sim, nats_server, postgres_admin_url, hears_stripe=True) as running:
        yield running


@pytest.fixture(scope="package")
async def quiet_stack(
    sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str
) -> AsyncIterator[Stack]:
    async with _onboarding_stack(sim, nats_server, postgres_admin_url, hears_stripe=False) as running:
        yield running


@contextlib.asynccontextmanager
async def _onboarding_stack(
    sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str, *, hears_stripe: bool
) -> AsyncIterator[Stack]:
    """An onboarding service in its own namespace and database; with ``hears_stripe``, behind a
    webhook gateway (own database) registered with the simulator."""
    namespace = f"t{uuid.uuid4().hex[:10]}"
    client = await nats.connect(nats_server.url)
    js = client.jetstream()
    await provision_streams(js, Namespace(namespace), StreamSettings())
    secret = new_jwt_secret()
    with fresh_database(postgres_admin_url) as database_url:
        settings = onboarding_settings(database_url, nats_server.url, namespace, sim, secret)
        database = Database(database_url)
        with contextlib.ExitStack() as services:
            if hears_stripe:
                gateway = _gateway_settings(sim, nats_server, postgres_admin_url, namespace)
                gateway_database = services.enter_context(fresh_database(postgres_admin_url))
                gateway_app = create_webhooks_app(
                    gateway.model_copy(update={"database_url": gateway_database})
                )
                services.enter_context(serving(gateway_app, gateway.http_port))
            service = services.enter_context(serving(create_onboarding_app(settings), settings.http_port))
            running = Stack(sim, service, settings, js, namespace, database, secret)
            yield running
            await running.close()
        await database.dispose()
    await client.close()


def _gateway_settings(
    sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str, namespace: str
) -> WebhooksSettings:
    """The webhook gateway, registered with the simulator as its platform and Connect endpoint."""
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
    return webhooks_settings(
        postgres_admin_url,
        nats_server.url,
        namespace,
        http_port=port,
        platform_signing_secrets=[platform.secret],
        connect_signing_secrets=[connect.secret],
    )
