"""Composition root of the collections service."""

from dataclasses import replace
from pathlib import Path

from fastapi import APIRouter, FastAPI

from services.collections.deps import Collections
from services.collections.handlers import router as messages
from services.collections.routes import debts, decisions, groups, members, operator
from services.collections.settings import CollectionsSettings
from services.collections.stripe import StripeCollections
from services.runtime.naming import Namespace
from services.runtime.service import ServiceDefinition, create_service_app, service_runtime
from services.runtime.stripe_client import stripe_client, stripe_request_budget

DEFINITION = ServiceDefinition(
    name="collections",
    title="rosca collections",
    description="Cycles, contributions, retries, refunds, disputes: the cycle saga and the group ledger. "
    "Member routes need a member's bearer token (JWT; `sub` is the member id); operator routes the "
    "operator token.",
    migrations_dir=Path(__file__).parent / "migrations",
    messages=messages,
)


def create_app(settings: CollectionsSettings) -> FastAPI:
    # The handlers need Stripe before the app exists; the budget reaches NATS through the app only
    # at the first call, once the runtime has connected.
    budget = stripe_request_budget(settings, Namespace(settings.namespace), lambda: service_runtime(app).js)
    collections = Collections(settings, StripeCollections(stripe_client(settings, budget)))
    routes = APIRouter()
    for feature in (groups, decisions, debts, members, operator):
        routes.include_router(feature.router)
    app = create_service_app(replace(DEFINITION, api=routes, dependencies=collections), settings)
    decisions.add_error_handlers(app)
    debts.add_error_handlers(app)
    return app
