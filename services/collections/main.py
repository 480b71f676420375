"""Composition root of the collections service."""

from dataclasses import replace
from pathlib import Path

from fastapi import FastAPI

from services.collections.deps import Collections
from services.collections.handlers import router as messages
from services.collections.settings import CollectionsSettings
from services.collections.stripe import StripeCollections
from services.runtime.naming import Namespace
from services.runtime.service import ServiceDefinition, create_service_app, service_runtime
from services.runtime.stripe_client import stripe_client, stripe_request_budget

DEFINITION = ServiceDefinition(
    name="collections",
    title="rosca collections",
    description="Cycles, contributions, retries, refunds, disputes: the cycle saga and the group ledger.",
    migrations_dir=Path(__file__).parent / "migrations",
    messages=messages,
)


def create_app(settings: CollectionsSettings) -> FastAPI:
    # The handlers need Stripe before the app exists; the budget reaches NATS through the app only
    # at the first call, once the runtime has connected.
    budget = stripe_request_budget(settings, Namespace(settings.namespace), lambda: service_runtime(app).js)
    collections = Collections(settings, StripeCollections(stripe_client(settings, budget)))
    app = create_service_app(replace(DEFINITION, dependencies=collections), settings)
    return app
