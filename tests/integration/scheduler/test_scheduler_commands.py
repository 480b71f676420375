"""Schedule, reschedule and cancel through real JetStream commands, fired through the real outbox."""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest
from nats.js import JetStreamContext

from contracts import subjects
from contracts.deadletter import MessageDeadLettered
from contracts.streams import DEADLETTER
from services.runtime.clock import CLOCK_BUCKET, advance_simulated_clock
from services.runtime.naming import Namespace
from services.scheduler.progress import wait_for_scheduler
from tests.infrastructure import NatsServer
from tests.integration.scheduler.support import (
    OPERATOR_TOKEN,
    cancel,
    fired_so_far,
    provision,
    schedule,
    scheduler_in_process,
    scheduler_settings,
    send,
)

pytestmark = pytest.mark.integration

T0 = datetime(2031, 7, 1, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def advance_and_wait(js: JetStreamContext, namespace: str, delta: timedelta) -> datetime:
    """What `rosca clock advance --wait` does: move the clock, then wait for the scheduler."""
    after = await advance_simulated_clock(js, delta, bucket=Namespace(namespace).bucket(CLOCK_BUCKET))
    async with asyncio.timeout(20):
        await wait_for_scheduler(js, after, namespace)
    return after


async def timer_view(client: httpx.AsyncClient, timer_id: str) -> dict[str, object]:
    answer = await client.get("/scheduler/timers", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
    [found] = [timer for timer in answer.json()["timers"] if timer["timer_id"] == timer_id]
    return dict(found)


@pytest.fixture
async def scheduler(
    js: JetStreamContext, nats_server: NatsServer, database_url: str, namespace: str
) -> AsyncIterator[httpx.AsyncClient]:
    await provision(js, namespace, clock_at=T0)
    async with scheduler_in_process(scheduler_settings(database_url, nats_server.url, namespace)) as client:
        yield client


async def test_a_timer_publishes_its_payload_once_when_the_clock_reaches_it(
    js: JetStreamContext, namespace: str, scheduler: httpx.AsyncClient
) -> None:
    command = schedule("cycle:grp_test:1:start", T0 + HOUR, issued_at=T0, payload={"cycle": 1, "group": "g"})
    await send(js, namespace, command)

    await advance_and_wait(js, namespace, HOUR / 2)
    assert await fired_so_far(js, namespace) == []

    await advance_and_wait(js, namespace, HOUR / 2)
    [fired] = await fired_so_far(js, namespace)
    assert fired.msg_id == "timer:cycle:grp_test:1:start"
    assert json.loads(fired.payload) == {"cycle": 1, "group": "g"}
    view = await timer_view(scheduler, command.timer_id)
    assert view["status"] == "fired"
    assert datetime.fromisoformat(str(view["fired_at"])) == T0 + HOUR


async def test_scheduling_the_same_timer_again_fires_it_once(
    js: JetStreamContext, namespace: str, scheduler: httpx.AsyncClient
) -> None:
    command = schedule("retry:grp_test:7", T0 + HOUR, issued_at=T0)
    await send(js, namespace, command)
    await send(js, namespace, command)  # redelivered: the inbox drops it
    await send(js, namespace, command.model_copy(update={"message_id": uuid4()}))  # resent by the caller

    await advance_and_wait(js, namespace, 2 * HOUR)
    # Scheduling a fired timer again, even for later, must not bring it back.
    later = command.model_copy(update={"message_id": uuid4(), "due_at": T0 + 3 * HOUR})
    await send(js, namespace, later)
    await advance_and_wait(js, namespace, 2 * HOUR)

    assert [fired.msg_id for fired in await fired_so_far(js, namespace)] == ["timer:retry:grp_test:7"]
    assert (await timer_view(scheduler, command.timer_id))["generation"] == 1


async def test_a_cancelled_timer_never_fires_even_when_the_cancel_came_first(
    js: JetStreamContext, namespace: str, scheduler: httpx.AsyncClient
) -> None:
    await send(js, namespace, schedule("deadline:a", T0 + HOUR, issued_at=T0))
    await send(js, namespace, cancel("deadline:a", issued_at=T0))
    await send(js, namespace, cancel("deadline:b", issued_at=T0))
    await advance_and_wait(js, namespace, timedelta(minutes=1))
    await send(js, namespace, schedule("deadline:b", T0 + HOUR, issued_at=T0))
    await send(js, namespace, schedule("deadline:c", T0 + HOUR, issued_at=T0))

    await advance_and_wait(js, namespace, 2 * HOUR)

    assert [fired.msg_id for fired in await fired_so_far(js, namespace)] == ["timer:deadline:c"]
    assert (await timer_view(scheduler, "deadline:a"))["status"] == "cancelled"
    assert (await timer_view(scheduler, "deadline:b"))["status"] == "cancelled"


async def test_rescheduling_a_pending_timer_moves_it_and_publishes_the_latest_payload(
    js: JetStreamContext, namespace: str, scheduler: httpx.AsyncClient
) -> None:
    await send(js, namespace, schedule("reminder:m1", T0 + HOUR, issued_at=T0, payload={"version": 1}))
    await send(
        js,
        namespace,
        schedule("reminder:m1", T0 + 3 * HOUR, issued_at=T0 + HOUR / 60, payload={"version": 2}),
    )

    await advance_and_wait(js, namespace, 2 * HOUR)
    assert await fired_so_far(js, namespace) == []
    assert (await timer_view(scheduler, "reminder:m1"))["generation"] == 2

    await advance_and_wait(js, namespace, 2 * HOUR)
    [fired] = await fired_so_far(js, namespace)
    assert json.loads(fired.payload) == {"version": 2}


async def test_a_timer_for_a_subject_outside_the_command_streams_is_dead_lettered_at_once(
    js: JetStreamContext, namespace: str, scheduler: httpx.AsyncClient
) -> None:
    names = Namespace(namespace)
    dead = await js.subscribe(
        names.subject(subjects.dead_letter("scheduler", "scheduler-schedule")),
        stream=names.stream(DEADLETTER.name),
    )
    body = schedule("loop:1", T0, issued_at=T0).model_dump(mode="json")
    body["target_subject"] = subjects.SCHEDULER_SCHEDULE  # a timer that schedules timers
    await js.publish(names.subject(subjects.SCHEDULER_SCHEDULE), json.dumps(body).encode())

    letter = MessageDeadLettered.model_validate_json((await dead.next_msg(timeout=10)).data)
    assert (letter.error_type, letter.deliveries) == ("ValidationError", 1)
    assert "target_subject" in letter.error_message
    answer = await scheduler.get("/scheduler/timers", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
    assert answer.json()["timers"] == []
