"""What the scheduler tests share: the service in-process or as a process, commands, fired messages."""

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import func, insert, select

from contracts import subjects
from contracts.messages import Message
from contracts.scheduler import CancelTimer, ScheduleTimer
from contracts.streams import NOTIFY
from rosca.stack.ports import free_port
from services.runtime.clock import CLOCK_BUCKET, set_simulated_clock
from services.runtime.db import Database
from services.runtime.migrations import upgrade_to_head
from services.runtime.naming import Namespace
from services.runtime.outbox import message_headers
from services.runtime.streams import StreamSettings, provision_streams
from services.runtime.tables import outbox
from services.scheduler.db import timers
from services.scheduler.main import DEFINITION, create_app
from services.scheduler.settings import SchedulerSettings

TARGET = subjects.notify_member("timer_test")
OPERATOR_TOKEN = "operator-token-for-tests-0123456789"


async def provision(js: JetStreamContext, namespace: str, clock_at: datetime | None = None) -> None:
    await provision_streams(js, Namespace(namespace), StreamSettings())
    if clock_at is not None:
        await set_simulated_clock(js, clock_at, bucket=Namespace(namespace).bucket(CLOCK_BUCKET))


def scheduler_settings(
    database_url: str, nats_url: str, namespace: str, **overrides: Any
) -> SchedulerSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "nats_url": nats_url,
        "namespace": namespace,
        "clock": "simulated",
        "operator_token": OPERATOR_TOKEN,
        "metrics_refresh_seconds": 0.2,
        "consumer_backoff_seconds": (0.2,),
        **overrides,
    }
    return SchedulerSettings.model_validate(values)


@asynccontextmanager
async def scheduler_in_process(settings: SchedulerSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The whole service (consumers, relay, firing loop, HTTP edge) in this event loop, until ready."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://scheduler") as client,
    ):
        try:
            await wait_until_ready(client)
            yield client
        finally:
            # The runtime drains NATS on the way out, and a drain can wait its full 30 s for a pull
            # subscription whose fetch was cancelled mid-message (reported with the scheduler);
            # closing first makes it skip the drain. Nothing of the scheduler's needs the drain.
            runtime = app.state.runtime
            if runtime.nats is not None:
                await runtime.nats.close()


async def wait_until_ready(client: httpx.AsyncClient, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while (await client.get("/readyz")).status_code != 200:
            await asyncio.sleep(0.05)


def migrate(database_url: str) -> None:
    upgrade_to_head(DEFINITION.migrations_dir, database_url)


@dataclass
class SchedulerProcess:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def assert_running(self) -> None:
        code = self.process.poll()
        assert code is None, f"the scheduler exited with {code}:\n{self.log.read_text()[-3000:]}"


@contextmanager
def scheduler_process(
    *, database_url: str, nats_url: str, namespace: str, log: Path, clock: str = "system", **extra: str
) -> Iterator[SchedulerProcess]:
    """``python -m services.scheduler`` with ROSCA_SCHEDULER_* settings; killed at the end."""
    port = free_port()
    environment = {
        **os.environ,
        "ROSCA_SCHEDULER_DATABASE_URL": database_url,
        "ROSCA_SCHEDULER_NATS_URL": nats_url,
        "ROSCA_SCHEDULER_NAMESPACE": namespace,
        "ROSCA_SCHEDULER_CLOCK": clock,
        "ROSCA_SCHEDULER_HTTP_PORT": str(port),
        **{f"ROSCA_SCHEDULER_{name.upper()}": value for name, value in extra.items()},
    }
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.scheduler"], env=environment, stdout=output, stderr=output
        )
    try:
        yield SchedulerProcess(process, f"http://127.0.0.1:{port}", log)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def wait_for_readiness(base_url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{base_url} not ready after {timeout} s")


async def send(js: JetStreamContext, namespace: str, command: ScheduleTimer | CancelTimer) -> None:
    subject = subjects.SCHEDULER_SCHEDULE if isinstance(command, ScheduleTimer) else subjects.SCHEDULER_CANCEL
    await publish(js, namespace, subject, command)


async def publish(js: JetStreamContext, namespace: str, subject: str, message: Message) -> None:
    await js.publish(
        Namespace(namespace).subject(subject),
        message.model_dump_json().encode(),
        headers=message_headers(message),
    )


def schedule(
    timer_id: str, due_at: datetime, *, issued_at: datetime, payload: dict[str, Any] | None = None
) -> ScheduleTimer:
    return ScheduleTimer(
        occurred_at=issued_at,
        correlation_id="grp_test",
        timer_id=timer_id,
        due_at=due_at,
        target_subject=TARGET,
        payload=payload if payload is not None else {"timer": timer_id},
    )


def cancel(timer_id: str, *, issued_at: datetime) -> CancelTimer:
    return CancelTimer(occurred_at=issued_at, correlation_id="grp_test", timer_id=timer_id)


@dataclass(frozen=True)
class Fired:
    msg_id: str
    payload: bytes


async def fired_so_far(js: JetStreamContext, namespace: str) -> list[Fired]:
    """Every message on the target subject, in stream order (read with a throw-away consumer)."""
    names = Namespace(namespace)
    stored = await target_stream_count(js, namespace)
    if stored == 0:
        return []
    subscription = await js.pull_subscribe(
        names.subject(TARGET),
        stream=names.stream(NOTIFY.name),
        config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL),
    )
    found: list[Fired] = []
    try:
        while len(found) < stored:
            batch = await subscription.fetch(min(1000, stored - len(found)), timeout=5)
            found.extend(
                Fired((message.headers or {}).get("Nats-Msg-Id", ""), message.data) for message in batch
            )
    finally:
        await subscription.unsubscribe()
    return found


async def target_stream_count(js: JetStreamContext, namespace: str) -> int:
    info = await js.stream_info(Namespace(namespace).stream(NOTIFY.name))
    return info.state.messages


async def insert_pending(
    database: Database, due: Sequence[tuple[str, datetime]], created_at: datetime
) -> None:
    """Pending timers straight into the table, as if their schedule commands had been applied."""
    rows = [
        {
            "timer_id": timer_id,
            "status": "pending",
            "correlation_id": "grp_test",
            "due_at": due_at,
            "target_subject": TARGET,
            "payload": {"timer": timer_id},
            "generation": 1,
            "created_at": created_at,
        }
        for timer_id, due_at in due
    ]
    for start in range(0, len(rows), 2000):
        async with database.transaction() as session:
            await session.execute(insert(timers), rows[start : start + 2000])


async def count_by_status(database: Database) -> dict[str, int]:
    async with database.transaction() as session:
        rows = (await session.execute(select(timers.c.status, func.count()).group_by(timers.c.status))).all()
    return dict(rows)


async def unpublished(database: Database) -> int:
    async with database.transaction() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
            or 0
        )


async def fired_by(database: Database) -> dict[str, int]:
    async with database.transaction() as session:
        rows = (
            await session.execute(
                select(timers.c.fired_by, func.count())
                .where(timers.c.status == "fired")
                .group_by(timers.c.fired_by)
            )
        ).all()
    return dict(rows)


def spread(start: datetime, count: int, every: timedelta) -> list[datetime]:
    return [start + every * index for index in range(count)]
