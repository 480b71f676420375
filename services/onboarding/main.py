"""Composition root of the onboarding service."""

from pathlib import Path

from fastapi import FastAPI

from services.onboarding.settings import OnboardingSettings
from services.runtime.service import ServiceDefinition, create_service_app

DEFINITION = ServiceDefinition(
    name="onboarding",
    title="rosca onboarding",
    description="Members, BECS mandates, Connect Express payout accounts, groups and payout order.",
    migrations_dir=Path(__file__).parent / "migrations",
)


def create_app(settings: OnboardingSettings) -> FastAPI:
    return create_service_app(DEFINITION, settings)
