"""What the delivery tests share: probe processes, waiting, counting."""

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo
from sqlalchemy import func, select

from contracts import subjects
from contracts.streams import DEADLETTER
from rosca.stack.ports import free_port
from services.runtime.clock import SystemClock
from services.runtime.consumer import Consumer, ConsumerPolicy, MessageRouter
from services.runtime.db import Database
from services.runtime.migrations import upgrade_to_head
from services.runtime.naming import Namespace
from services.runtime.outbox import OutboxRelay, message_headers
from services.runtime.streams import StreamSettings, provision_streams
from tests.integration.probe.handlers import router as probe_router
from tests.integration.probe.schema import MIGRATIONS, PROBE_STREAM, PROBE_SUBJECT, ProbeRecorded, effects


async def prepare(js: JetStreamContext, namespace: str, database_url: str, duplicate_window: float) -> None:
    await asyncio.to_thread(upgrade_to_head, MIGRATIONS, database_url)
    await provision_streams(
        js,
        Namespace(namespace),
        StreamSettings(duplicate_window_seconds=duplicate_window),
        definitions=(PROBE_STREAM, DEADLETTER),
    )


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0, what: str = "") -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)
    assert await check(), what


async def applied_values(database: Database) -> list[str]:
    async with database.transaction() as session:
        return list((await session.scalars(select(effects.c.value).order_by(effects.c.id))).all())


async def count_effects(database: Database) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(effects)) or 0)


async def stream_messages(js: JetStreamContext, namespace: str) -> int:
    info = await js.stream_info(Namespace(namespace).stream(PROBE_STREAM.name))
    return info.state.messages


def probe_message(value: str) -> ProbeRecorded:
    return ProbeRecorded(occurred_at=datetime.now(UTC), correlation_id="probe-group", value=value)


async def publish_probe(js: JetStreamContext, namespace: str, message: ProbeRecorded) -> None:
    """Publish straight to JetStream, as a relay would, bypassing any outbox."""
    await js.publish(
        Namespace(namespace).subject(PROBE_SUBJECT),
        message.model_dump_json().encode(),
        headers=message_headers(message),
    )


def probe_consumer(
    js: JetStreamContext,
    database: Database,
    namespace: str,
    *,
    router: MessageRouter = probe_router,
    max_deliver: int = 5,
    ack_wait: float = 1.0,
    dependencies: object = None,
) -> Consumer:
    return Consumer(
        "probe",
        router.subscriptions[0],
        js=js,
        database=database,
        namespace=Namespace(namespace),
        clock=SystemClock(),
        policy=ConsumerPolicy(max_deliver=max_deliver, backoff_seconds=(0.1,), ack_wait_seconds=ack_wait),
        dependencies=dependencies,
    )


@asynccontextmanager
async def running(*workers: Consumer | OutboxRelay) -> AsyncIterator[None]:
    """Runs consumers and relays in the background for the duration of the block."""
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def dead_letters_of_probe(js: JetStreamContext, namespace: str) -> JetStreamContext.PushSubscription:
    names = Namespace(namespace)
    return await js.subscribe(
        names.subject(subjects.dead_letter("probe", "probe-recorder")), stream=names.stream(DEADLETTER.name)
    )


async def probe_consumer_info(js: JetStreamContext, namespace: str) -> ConsumerInfo:
    names = Namespace(namespace)
    info: ConsumerInfo = await js.consumer_info(
        names.stream(PROBE_STREAM.name), names.durable("probe-recorder")
    )
    return info


async def probe_consumer_idle(js: JetStreamContext, namespace: str) -> bool:
    try:
        info = await probe_consumer_info(js, namespace)
    except Exception:  # not created yet
        return False
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


@contextmanager
def probe_process(
    role: str, *, nats_url: str, namespace: str, database_url: str = "", **extra: str
) -> Iterator[subprocess.Popen[str]]:
    """Starts ``python -m tests.integration.probe <role>`` and waits until it says it is running."""
    environment = {
        **os.environ,
        "PROBE_NATS_URL": nats_url,
        "PROBE_NAMESPACE": namespace,
        "PROBE_DATABASE_URL": database_url,
        **extra,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.probe", role],
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert first_line, f"probe {role} exited before it was running (code {process.poll()})"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def wait_for_readiness(base_url: str, timeout: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(f"{base_url}/readyz", timeout=2)
            if last.status_code == 200:
                return last
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base_url} not ready: {last.text if last else 'no answer'}")


@contextmanager
def service_process(service: str, settings: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m services.<service>`` with ``ROSCA_<SERVICE>_<key>`` for each setting and a free HTTP
    port, once ready; killed at the end if it still runs (a test may have killed it already)."""
    port = free_port()
    prefix = f"ROSCA_{service.upper()}_"
    environment = {
        **os.environ,
        **{prefix + key: value for key, value in settings.items()},
        f"{prefix}HTTP_PORT": str(port),
    }
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", f"services.{service}"], env=environment, stdout=output, stderr=output
        )
    try:
        wait_for_readiness(f"http://127.0.0.1:{port}")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
