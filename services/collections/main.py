"""Composition root of the collections service."""

from pathlib import Path

from fastapi import FastAPI

from services.collections.settings import CollectionsSettings
from services.runtime.service import ServiceDefinition, create_service_app

DEFINITION = ServiceDefinition(
    name="collections",
    title="rosca collections",
    description="Cycles, contributions, retries, refunds, disputes: the cycle saga and the group ledger.",
    migrations_dir=Path(__file__).parent / "migrations",
)


def create_app(settings: CollectionsSettings) -> FastAPI:
    return create_service_app(DEFINITION, settings)
