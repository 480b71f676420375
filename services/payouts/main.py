"""Composition root of the payouts service."""

from pathlib import Path

from fastapi import FastAPI

from services.payouts.settings import PayoutsSettings
from services.runtime.service import ServiceDefinition, create_service_app

DEFINITION = ServiceDefinition(
    name="payouts",
    title="rosca payouts",
    description="Transfers of each funded cycle's pot to its recipient's connected account.",
    migrations_dir=Path(__file__).parent / "migrations",
)


def create_app(settings: PayoutsSettings) -> FastAPI:
    return create_service_app(DEFINITION, settings)
