"""Composition root of the webhooks service."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter, FastAPI

from services.runtime.service import ServiceDefinition, ServiceRuntime, create_service_app
from services.webhooks import admin_api, api
from services.webhooks.delivery_lane import DeliveryLane
from services.webhooks.ingest import EventIngest, EventPublisher
from services.webhooks.settings import WebhooksSettings
from services.webhooks.stripe import StripeEventSource

log = logging.getLogger(__name__)

DEFINITION = ServiceDefinition(
    name="webhooks",
    title="rosca webhooks",
    description="The Stripe webhook gateway: verified, durable, deduplicated events onto JetStream.",
    migrations_dir=Path(__file__).parent / "migrations",
)


def create_app(settings: WebhooksSettings) -> FastAPI:
    # The runtime has no hook for a service's own background work: a router lifespan carries the
    # sweep, and FastAPI nests it inside the runtime's (started after, stopped before).
    edge = APIRouter(lifespan=_sweep_unpublished(settings))
    edge.include_router(api.router)
    edge.include_router(admin_api.router)
    app = create_service_app(replace(DEFINITION, api=edge), settings)
    runtime: ServiceRuntime = app.state.runtime
    ingest = EventIngest(
        runtime.database,
        EventPublisher(lambda: runtime.nats, runtime.namespace),
        timeout=settings.ingest_timeout_seconds,
    )
    app.state.webhooks = api.Gateway.build(settings, ingest)
    # Backfill lists events within the Stripe budget the namespace's services share (in NATS,
    # reached at the first listing, once the runtime has connected).
    app.state.stripe_events = (
        StripeEventSource.within_budget(settings, lambda: runtime.js) if settings.stripe_api_key else None
    )
    app.add_middleware(DeliveryLane, prefix=f"/{DEFINITION.name}")
    return app


def _sweep_unpublished(settings: WebhooksSettings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        work = asyncio.create_task(_sweep_forever(app, settings), name="webhooks-sweep")
        try:
            yield
        finally:
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
            gateway: api.Gateway = app.state.webhooks
            await gateway.ingest.close()
            source: StripeEventSource | None = app.state.stripe_events
            if source is not None:
                await source.close()

    return lifespan


async def _sweep_forever(app: FastAPI, settings: WebhooksSettings) -> None:
    runtime: ServiceRuntime = app.state.runtime
    gateway: api.Gateway = app.state.webhooks
    grace = timedelta(seconds=settings.sweep_grace_seconds)
    # Migrations have run and NATS is up once the runtime has its relay; it has no start-up event.
    while runtime.relay is None:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    while True:
        try:
            while await gateway.ingest.publish_unpublished(grace) > 0:
                pass
        except Exception as error:
            log.warning("sweep of unpublished events failed: %r", error)
        await asyncio.sleep(settings.sweep_interval_seconds)
