"""One service process: its connections, background work, and the HTTP edge every service has.

Start-up never blocks the HTTP edge: the process starts, then migrates, connects to NATS and starts
its relay and consumers in the background, retrying with one clear log line per failure, while
``/readyz`` says which dependency is missing.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import nats
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from services.runtime.body_limit import RequestBodyLimit
from services.runtime.clock import CLOCK_BUCKET, Clock, SimulatedClock, SystemClock
from services.runtime.consumer import Consumer, ConsumerPolicy, MessageRouter, run_consumers
from services.runtime.db import Database, describe_database
from services.runtime.errors import install_error_handlers
from services.runtime.member_auth import install_member_auth
from services.runtime.member_tokens import MemberTokenSettings
from services.runtime.migrations import current_revision, head_revision, upgrade_to_head
from services.runtime.naming import Namespace
from services.runtime.outbox import OutboxRelay
from services.runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

# A readiness check that does not apply to this service: not a failure.
NOTHING_TO_CHECK = "none"
DRAIN_SECONDS = 5.0
STOP_SECONDS = 5.0
BASE_POOL_SIZE = 5


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    title: str
    description: str
    migrations_dir: Path
    messages: MessageRouter | None = None
    # What the message handlers receive as ``handling.dependencies``, built in create_app.
    dependencies: object = None
    api: APIRouter | None = None
    # The service's own long-running work (a firing loop, a poller), started once the database,
    # NATS, the clock and the relay are up; /readyz reports it not running if it ever stops.
    background: Callable[["ServiceRuntime"], Awaitable[None]] | None = None
    # What the service lets go of at its stop, once its consumers and background work have ended
    # and before NATS and the database: its Stripe client's connections.
    closing: tuple[Callable[[], Awaitable[None]], ...] = ()


class ServiceRuntime:
    def __init__(self, definition: ServiceDefinition, settings: ServiceSettings) -> None:
        if definition.messages is not None:
            definition.messages.check_dependencies(definition.dependencies)
        self.definition = definition
        self.settings = settings
        self.namespace = Namespace(settings.namespace)
        self.database = Database(
            settings.database_url, pool_size=_pool_size(definition.messages), max_overflow=BASE_POOL_SIZE
        )
        self.nats: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._clock: Clock | None = SystemClock() if settings.clock == "system" else None
        self.relay: OutboxRelay | None = None
        self.consumers: list[Consumer] = []
        self._consumers_started = False
        self._head_revision = head_revision(definition.migrations_dir)
        self._tasks: list[asyncio.Task[None]] = []
        self._background: asyncio.Task[None] | None = None

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("NATS is not connected yet")
        return self._js

    @property
    def clock(self) -> Clock:
        if self._clock is None:
            raise RuntimeError("the simulated clock is not started yet")
        return self._clock

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        self._tasks.append(asyncio.create_task(self._start(), name="start-up"))
        try:
            yield
        finally:
            await self._stop()

    async def _start(self) -> None:
        name = self.definition.name
        if self.settings.migrate_on_start:
            where = describe_database(self.settings.database_url)
            await _keep_trying(
                f"database {where}",
                lambda: asyncio.to_thread(
                    upgrade_to_head, self.definition.migrations_dir, self.settings.database_url
                ),
            )
        await _keep_trying(f"NATS {self.settings.nats_url}", self._connect_nats)
        if self._clock is None:
            simulated = SimulatedClock(self.js, self.namespace.bucket(CLOCK_BUCKET))
            await _keep_trying("simulated clock", simulated.start)
            self._clock = simulated
        self.relay = OutboxRelay(
            self.database,
            self.js,
            self.namespace,
            batch_size=self.settings.outbox_batch_size,
            poll_seconds=self.settings.outbox_poll_seconds,
        )
        self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        policy = ConsumerPolicy(
            max_deliver=self.settings.consumer_max_deliver,
            backoff_seconds=self.settings.consumer_backoff_seconds,
            ack_wait_seconds=self.settings.consumer_ack_wait_seconds,
            batch_max_messages=self.settings.consumer_batch_max_messages,
            batch_max_wait_seconds=self.settings.consumer_batch_max_wait_seconds,
        )
        router = self.definition.messages
        self.consumers = [
            Consumer(
                name,
                subscription,
                js=self.js,
                database=self.database,
                namespace=self.namespace,
                clock=self.clock,
                policy=policy,
                dependencies=self.definition.dependencies,
            )
            for subscription in (router.subscriptions if router else [])
        ]
        if self.consumers:
            self._tasks.append(asyncio.create_task(run_consumers(self.consumers), name="consumers"))
        self._consumers_started = True
        if self.definition.background is not None:
            self._background = asyncio.create_task(self._run_background(), name=f"{name}-background")
            self._tasks.append(self._background)
        log.info("%s started", name)

    async def _run_background(self) -> None:
        assert self.definition.background is not None
        try:
            await self.definition.background(self)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s background work stopped", self.definition.name)
            raise

    async def _connect_nats(self) -> None:
        async def disconnected() -> None:
            log.warning("NATS connection lost; reconnecting")

        async def reconnected() -> None:
            log.info("NATS connection restored")

        failures = 0

        async def error(problem: Exception) -> None:
            # nats-py retries the first connection itself, reporting each failure here.
            nonlocal failures
            failures += 1
            if failures == 1 or failures % 30 == 0:
                log.warning("NATS %s unavailable: %s; retrying", self.settings.nats_url, _one_line(problem))

        self.nats = await nats.connect(
            servers=self.settings.nats_url.split(","),
            name=f"rosca-{self.definition.name}",
            connect_timeout=2,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
            error_cb=error,
        )
        self._js = self.nats.jetstream()

    async def _stop(self) -> None:
        for task in reversed(self._tasks):
            task.cancel()
        if self._tasks:
            # Bounded: a task that ignores its cancellation must not keep the process from exiting.
            _, stuck = await asyncio.wait(self._tasks, timeout=STOP_SECONDS)
            for task in stuck:
                log.warning("%s did not stop within %.0f s; leaving it", task.get_name(), STOP_SECONDS)
        if isinstance(self._clock, SimulatedClock):
            await self._clock.stop()
        for close in self.definition.closing:
            try:
                await asyncio.wait_for(close(), timeout=DRAIN_SECONDS)
            except Exception as error:  # stopping goes on whatever one part says
                log.warning("%s did not close cleanly: %r", self.definition.name, error)
        if self.nats is not None and not self.nats.is_closed:
            # Drain flushes what we published; bounded, because a drain that waits on a dead
            # server or a stuck subscription would keep the process from ever exiting.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nats.drain(), timeout=DRAIN_SECONDS)
            if not self.nats.is_closed:
                with contextlib.suppress(Exception):
                    await self.nats.close()
        await self.database.dispose()

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(2), self.database.engine.connect() as connection:
                revision = await current_revision(connection)
            checks["database"] = "ok"
            checks["migrations"] = (
                "ok" if revision == self._head_revision else f"at {revision}, expected {self._head_revision}"
            )
        except Exception as error:
            checks["database"] = f"unreachable: {_one_line(error)}"
            checks["migrations"] = "unknown"
        checks["nats"] = "ok" if self.nats is not None and self.nats.is_connected else "not connected"
        checks["clock"] = "ok" if self._clock is not None else "not started"
        checks["outbox_relay"] = "ok" if self.relay is not None and self.relay.listening else "not running"
        checks["consumers"] = self._consumers_check()
        if self.definition.background is not None:
            running = self._background is not None and not self._background.done()
            checks["background"] = "ok" if running else "not running"
        return checks

    def _consumers_check(self) -> str:
        router = self.definition.messages
        if router is None or not router.subscriptions:
            return NOTHING_TO_CHECK  # a service that consumes nothing has nothing here to be ready
        if not self._consumers_started:
            return "not started"
        unready = [consumer.name for consumer in self.consumers if not consumer.ready]
        return "ok" if not unready else f"not subscribed: {', '.join(unready)}"


def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]


def service_runtime(app: FastAPI) -> ServiceRuntime:
    runtime: ServiceRuntime = app.state.runtime
    return runtime


def create_service_app(definition: ServiceDefinition, settings: ServiceSettings) -> FastAPI:
    runtime = ServiceRuntime(definition, settings)
    prefix = f"/{definition.name}"
    app = FastAPI(
        title=definition.title,
        description=definition.description,
        lifespan=runtime.lifespan,
        docs_url=f"{prefix}/docs",
        openapi_url=f"{prefix}/openapi.json",
        redoc_url=None,
        # Metrics are ours (Prometheus, /metrics); FastAPI's OpenTelemetry hook would otherwise look
        # up the global providers, through os.environ, on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.runtime = runtime
    # Ops routes answer at the root (probes, scrapers) and under the prefix (through the gateway).
    app.include_router(_ops_router())
    app.include_router(_ops_router(), prefix=prefix)
    if definition.api is not None:
        app.include_router(definition.api, prefix=prefix)
    install_error_handlers(app)
    app.add_middleware(RequestBodyLimit, max_bytes=settings.max_request_body_bytes)
    if isinstance(settings, MemberTokenSettings):
        install_member_auth(app, settings)
    return app


def _ops_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @router.get("/readyz", summary="Readiness: database, migrations, NATS, clock, relay, consumers")
    async def readyz(runtime: RuntimeDep) -> JSONResponse:
        checks = await runtime.readiness()
        ready = all(value in ("ok", NOTHING_TO_CHECK) for value in checks.values())
        return JSONResponse(
            {
                "status": "ready" if ready else "not ready",
                "service": runtime.definition.name,
                "checks": checks,
            },
            status_code=200 if ready else 503,
        )

    return router


async def _keep_trying(what: str, attempt: Callable[[], Awaitable[Any]]) -> None:
    def report(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if state.attempt_number == 1 or state.attempt_number % 10 == 0:
            log.warning("%s unavailable: %s; retrying", what, _one_line(error))

    async for retry in AsyncRetrying(
        retry=retry_if_exception_type(Exception),
        wait=wait_exponential(multiplier=0.2, max=5),
        before_sleep=report,
    ):
        with retry:
            await attempt()


def _pool_size(router: MessageRouter | None) -> int:
    """Database connections the process keeps: a handful for one-at-a-time consumers, the relay and
    the HTTP edge, plus one for each extra message a consumer may hold in flight (its transaction
    is open while its handler waits, on Stripe say)."""
    extra = sum(s.max_in_flight - 1 for s in router.subscriptions) if router else 0
    return BASE_POOL_SIZE + extra


def _one_line(error: BaseException | None) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]
