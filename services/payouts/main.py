"""Composition root of the payouts service."""

from dataclasses import replace
from pathlib import Path

from fastapi import APIRouter, FastAPI

from services.payouts.deps import Payouts
from services.payouts.handlers import router as messages
from services.payouts.routes import members, operator
from services.payouts.settings import PayoutsSettings
from services.payouts.stripe import StripePayouts
from services.runtime.calendar import BECS_CALENDAR
from services.runtime.naming import Namespace
from services.runtime.service import ServiceDefinition, create_service_app, service_runtime
from services.runtime.stripe_client import stripe_client, stripe_request_budget

DEFINITION = ServiceDefinition(
    name="payouts",
    title="rosca payouts",
    description="Transfers of each funded cycle's pot to its recipient's connected account: holds, "
    "pauses and resumes, and the recipients' bank payouts. Member routes need a member's bearer token "
    "(JWT; `sub` is the member id); operator routes the operator token.",
    migrations_dir=Path(__file__).parent / "migrations",
    messages=messages,
)


def create_app(settings: PayoutsSettings) -> FastAPI:
    # The handlers need Stripe before the app exists; the budget reaches NATS through the app only
    # at the first call, once the runtime has connected.
    budget = stripe_request_budget(settings, Namespace(settings.namespace), lambda: service_runtime(app).js)
    client = stripe_client(settings, budget)
    payouts = Payouts(settings, StripePayouts(client), BECS_CALENDAR)
    routes = APIRouter()
    for feature in (members, operator):
        routes.include_router(feature.router)
    app = create_service_app(
        replace(DEFINITION, api=routes, dependencies=payouts, closing=(client.close,)), settings
    )
    return app
