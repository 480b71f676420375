"""Composition root of the onboarding service."""

from dataclasses import replace
from pathlib import Path

from fastapi import APIRouter, FastAPI

from services.onboarding.api import add_error_handlers
from services.onboarding.deps import Onboarding
from services.onboarding.handlers import router as messages
from services.onboarding.routes import groups, members
from services.onboarding.settings import OnboardingSettings
from services.onboarding.stripe import StripeApi
from services.runtime.naming import Namespace
from services.runtime.service import ServiceDefinition, create_service_app, service_runtime
from services.runtime.stripe_client import stripe_client, stripe_request_budget

DEFINITION = ServiceDefinition(
    name="onboarding",
    title="rosca onboarding",
    description="Members, BECS mandates, Connect Express payout accounts, groups and payout order. "
    "Every route needs a member's bearer token (JWT; `sub` is the member id).",
    migrations_dir=Path(__file__).parent / "migrations",
    messages=messages,
)


def create_app(settings: OnboardingSettings) -> FastAPI:
    # The handlers need Stripe before the app exists; the budget reaches NATS through the app only
    # at the first call, once the runtime has connected.
    budget = stripe_request_budget(settings, Namespace(settings.namespace), lambda: service_runtime(app).js)
    client = stripe_client(settings, budget)
    stripe_api = StripeApi(client)
    routes = APIRouter()
    routes.include_router(members.router)
    routes.include_router(groups.router)
    onboarding = Onboarding(settings, stripe_api)
    app = create_service_app(
        replace(DEFINITION, api=routes, dependencies=onboarding, closing=(client.close,)), settings
    )
    app.state.onboarding = onboarding
    add_error_handlers(app)
    return app
