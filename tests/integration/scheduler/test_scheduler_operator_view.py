"""The operator view: bearer-token access, filters, pages; and the timer figures in /metrics."""

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from nats.js import JetStreamContext
from prometheus_client import REGISTRY
from sqlalchemy import insert, select

from services.runtime.db import Database
from services.scheduler.db import timers
from services.scheduler.main import create_app
from tests.infrastructure import NatsServer
from tests.integration.scheduler.support import (
    OPERATOR_TOKEN,
    TARGET,
    insert_pending,
    migrate,
    provision,
    scheduler_in_process,
    scheduler_settings,
)

pytestmark = pytest.mark.integration

T0 = datetime(2031, 7, 1, 0, 0, tzinfo=UTC)
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


async def edge_only(settings_overrides: dict[str, object]) -> httpx.AsyncClient:
    """The HTTP edge without starting the service: enough for what is decided before any query."""
    settings = scheduler_settings("postgresql://nobody@127.0.0.1:1/none", "nats://127.0.0.1:1", "x")
    app = create_app(settings.model_copy(update=settings_overrides))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://scheduler")


async def test_without_a_configured_token_the_view_is_unavailable_for_everyone() -> None:
    async with await edge_only({"operator_token": None}) as client:
        for headers in ({}, OPERATOR, {"Authorization": "Bearer "}):
            answer = await client.get("/scheduler/timers", headers=headers)
            assert answer.status_code == 503
            assert answer.json() == {
                "error": {"type": "operator_token_not_configured", "message": "operator token not configured"}
            }


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong-token-of-the-same-length-0123",
        f"Bearer {OPERATOR_TOKEN[:-1]}",
        f"Bearer {OPERATOR_TOKEN}x",
        f"Basic {OPERATOR_TOKEN}",
        OPERATOR_TOKEN,
    ],
)
async def test_anything_but_the_operator_token_is_refused(authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with await edge_only({}) as client:
        answer = await client.get("/scheduler/timers", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert answer.json()["error"]["type"] == "unauthorized"


@pytest.fixture
async def operator(
    js: JetStreamContext, nats_server: NatsServer, database_url: str, namespace: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    await provision(js, namespace, clock_at=T0)
    await asyncio.to_thread(migrate, database_url)
    database = Database(database_url)
    async with scheduler_in_process(scheduler_settings(database_url, nats_server.url, namespace)) as client:
        yield client, database
    await database.dispose()


async def add_final(database: Database, timer_id: str, status: str, due_at: datetime | None) -> None:
    async with database.transaction() as session:
        await session.execute(
            insert(timers).values(
                timer_id=timer_id,
                status=status,
                correlation_id="grp_test",
                due_at=due_at,
                target_subject=TARGET if due_at else None,
                payload={"timer": timer_id} if due_at else None,
                generation=1 if due_at else 0,
                created_at=T0,
                fired_at=due_at if status == "fired" else None,
                cancelled_at=T0 if status == "cancelled" else None,
            )
        )


async def test_timers_are_listed_by_status_subject_and_due_time_a_page_at_a_time(
    operator: tuple[httpx.AsyncClient, Database],
) -> None:
    client, database = operator
    pending = [(f"p{n}", T0 + timedelta(days=n)) for n in (5, 1, 3, 2, 4)] + [("p0", T0 + timedelta(days=1))]
    await insert_pending(database, pending, created_at=T0)
    await add_final(database, "f1", "fired", T0 - timedelta(days=1))
    await add_final(database, "c1", "cancelled", T0 + timedelta(days=2))
    await add_final(database, "tombstone", "cancelled", None)

    async def ids(**query: str) -> list[str]:
        listed, cursor = [], None
        while True:
            params = {**query, "limit": "2", **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/scheduler/timers", params=params, headers=OPERATOR)).json()
            listed += [timer["timer_id"] for timer in page["timers"]]
            if (cursor := page["next_cursor"]) is None:
                return listed

    assert await ids() == ["f1", "p0", "p1", "c1", "p2", "p3", "p4", "p5", "tombstone"]
    assert await ids(status="pending") == ["p0", "p1", "p2", "p3", "p4", "p5"]
    assert await ids(status="cancelled") == ["c1", "tombstone"]
    assert await ids(subject=TARGET, due_from=(T0 + timedelta(days=2)).isoformat()) == [
        "c1",
        "p2",
        "p3",
        "p4",
        "p5",
    ]
    assert await ids(due_before=(T0 + timedelta(days=2)).isoformat()) == ["f1", "p0", "p1"]

    third_day = {"status": "pending", "due_from": (T0 + timedelta(days=3)).isoformat(), "limit": "1"}
    [p3] = (await client.get("/scheduler/timers", params=third_day, headers=OPERATOR)).json()["timers"]
    assert (p3["timer_id"], p3["target_subject"], p3["payload"], p3["generation"]) == (
        "p3",
        TARGET,
        {"timer": "p3"},
        1,
    )


async def test_bad_filters_and_cursors_are_answered_with_4xx(
    operator: tuple[httpx.AsyncClient, Database],
) -> None:
    client, _ = operator
    assert (
        await client.get("/scheduler/timers", params={"cursor": "nonsense"}, headers=OPERATOR)
    ).json() == {"error": {"type": "invalid_cursor", "message": "not a cursor this endpoint returned"}}
    assert (
        await client.get("/scheduler/timers", params={"status": "lost"}, headers=OPERATOR)
    ).status_code == 422
    assert (await client.get("/scheduler/timers", params={"limit": "0"}, headers=OPERATOR)).status_code == 422
    naive = {"due_from": "2031-07-01T00:00:00"}
    assert (await client.get("/scheduler/timers", params=naive, headers=OPERATOR)).status_code == 422


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


async def test_metrics_count_pending_overdue_and_fired_timers_and_the_fire_lag(
    js: JetStreamContext, nats_server: NatsServer, database_url: str, namespace: str
) -> None:
    now = datetime.now(UTC)
    await provision(js, namespace)
    await asyncio.to_thread(migrate, database_url)
    database = Database(database_url)
    await insert_pending(
        database, [(f"later:{n}", now + timedelta(days=1)) for n in range(4)], created_at=now
    )
    missed = [(f"missed:{n}", now - timedelta(seconds=90)) for n in range(3)]
    await insert_pending(database, missed, created_at=now)
    lag_count = "rosca_scheduler_fire_lag_seconds_count"
    lag_within_a_minute = 'rosca_scheduler_fire_lag_seconds_bucket{le="60.0"}'
    # The registry is the process's: other tests in this run have fired timers too.
    counted_before = REGISTRY.get_sample_value(lag_count) or 0.0
    within_before = (
        REGISTRY.get_sample_value("rosca_scheduler_fire_lag_seconds_bucket", {"le": "60.0"}) or 0.0
    )
    settings = scheduler_settings(database_url, nats_server.url, namespace, clock="system")

    async with scheduler_in_process(settings) as client:

        async def figures() -> str:
            return (await client.get("/scheduler/metrics")).text

        async with database.transaction() as holder:
            # Another replica's pass holds the missed timers: this one must skip them, so they show
            # as overdue until it lets go.
            await holder.execute(select(timers).where(timers.c.timer_id.like("missed:%")).with_for_update())
            async with asyncio.timeout(10):
                while metric(await figures(), "rosca_scheduler_timers_overdue") != 3:
                    await asyncio.sleep(0.05)
            assert metric(await figures(), 'rosca_scheduler_timers{status="pending"}') == 7

        async with asyncio.timeout(10):
            while metric(text := await figures(), 'rosca_scheduler_timers{status="fired"}') != 3:
                await asyncio.sleep(0.05)
    assert metric(text, 'rosca_scheduler_timers{status="pending"}') == 4
    assert metric(text, "rosca_scheduler_timers_overdue") == 0
    assert metric(text, lag_count) == counted_before + 3
    assert metric(text, lag_within_a_minute) == within_before, "each lag was over 90 s"
    await database.dispose()
