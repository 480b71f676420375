"""Composition root of the scheduler service."""

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from fastapi import FastAPI

from services.runtime.service import ServiceDefinition, ServiceRuntime, create_service_app
from services.scheduler import api
from services.scheduler.firing import FiringLoop
from services.scheduler.handlers import router as messages
from services.scheduler.metrics import refresh_timer_gauges
from services.scheduler.progress import FiredThrough
from services.scheduler.settings import SchedulerSettings

DEFINITION = ServiceDefinition(
    name="scheduler",
    title="rosca scheduler",
    description="Durable timers and the Australian business-day calendar.",
    migrations_dir=Path(__file__).parent / "migrations",
    messages=messages,
)


def create_app(settings: SchedulerSettings) -> FastAPI:
    definition = replace(DEFINITION, api=api.router, background=_firing_work(settings))
    app = create_service_app(definition, settings)
    app.state.scheduler_settings = settings
    return app


def _firing_work(settings: SchedulerSettings) -> Callable[[ServiceRuntime], Awaitable[None]]:
    async def fire_timers(runtime: ServiceRuntime) -> None:
        firing = FiringLoop(
            runtime.database,
            runtime.clock,
            batch_size=settings.firing_batch_size,
            idle_seconds=settings.firing_idle_seconds,
            fired_by=f"{socket.gethostname()}:{os.getpid()}",
            progress=_progress(runtime) if settings.clock == "simulated" else None,
        )
        async with asyncio.TaskGroup() as group:
            group.create_task(firing.run(), name="firing-loop")
            group.create_task(
                refresh_timer_gauges(runtime.database, runtime.clock, settings.metrics_refresh_seconds),
                name="timer-gauges",
            )

    return fire_timers


def _progress(runtime: ServiceRuntime) -> FiredThrough:
    consumers = [(subscription.stream, subscription.durable) for subscription in messages.subscriptions]
    return FiredThrough(runtime.js, runtime.namespace, consumers)
