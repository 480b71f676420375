"""Composition root of the collections service."""

import asyncio
from dataclasses import replace
from pathlib import Path

from fastapi import APIRouter, FastAPI

from services.collections.deps import Collections
from services.collections.handlers import router as messages
from services.collections.routes import debts, decisions, groups, members, operator, reconciliations
from services.collections.service_layer.reconciliation import keep_daily_runs_scheduled
from services.collections.settings import CollectionsSettings
from services.collections.stripe import StripeCollections
from services.collections.stripe_books import StripeBooksReader
from services.runtime.naming import Namespace
from services.runtime.service import ServiceDefinition, ServiceRuntime, create_service_app, service_runtime
from services.runtime.stripe_client import stripe_client, stripe_request_budget

# Each daily run schedules the next; this only starts the chain (and mends it after downtime).
RESCHEDULE_EVERY_SECONDS = 3600.0


async def _keep_daily_reconciliation_scheduled(runtime: ServiceRuntime) -> None:
    while True:
        async with runtime.database.transaction() as session:
            await keep_daily_runs_scheduled(session, runtime.clock.now())
        await asyncio.sleep(RESCHEDULE_EVERY_SECONDS)


DEFINITION = ServiceDefinition(
    name="collections",
    title="rosca collections",
    description="Cycles, contributions, retries, refunds, disputes: the cycle saga and the group ledger. "
    "Member routes need a member's bearer token (JWT; `sub` is the member id); operator routes the "
    "operator token.",
    migrations_dir=Path(__file__).parent / "migrations",
    messages=messages,
    background=_keep_daily_reconciliation_scheduled,
)


def create_app(settings: CollectionsSettings) -> FastAPI:
    # The handlers need Stripe before the app exists; the budget reaches NATS through the app only
    # at the first call, once the runtime has connected.
    budget = stripe_request_budget(settings, Namespace(settings.namespace), lambda: service_runtime(app).js)
    client = stripe_client(settings, budget)
    collections = Collections(settings, StripeCollections(client), StripeBooksReader(client))
    routes = APIRouter()
    for feature in (groups, decisions, debts, members, operator, reconciliations):
        routes.include_router(feature.router)
    app = create_service_app(
        replace(DEFINITION, api=routes, dependencies=collections, closing=(client.close,)), settings
    )
    decisions.add_error_handlers(app)
    debts.add_error_handlers(app)
    return app
