"""Reconciliation on real NATS, Postgres and the Stripe simulator: a clean day reconciles to zero;
a refund made behind the ledger's back and a PaymentIntent it never heard of are reported with
their kind and amounts, stored with the run, shown to the operator and announced; the daily timer
runs the day and schedules the next."""

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import func, select

from contracts import subjects
from contracts.reconciliation import ReconcileDay
from contracts.streams import COLLECTIONS
from rosca.stack.state import StackState, write_stack_state
from services.collections.calendar import BecsBusinessCalendar
from services.collections.domain.reconciliation import DifferenceKind, day_of
from services.collections.domain.rotation import plan_rotation
from services.collections.service_layer.reconciliation import Scope, reconcile, scheduled_run_id
from services.collections.store.reconciliation import runs
from services.collections.store.tables import ledger_transactions
from services.collections.stripe_books import StripeBooksReader
from services.runtime.clock import CLOCK_BUCKET, advance_simulated_clock
from services.runtime.naming import Namespace
from tests.infrastructure import NatsServer, fresh_database
from tests.integration.collections.conftest import _collections_stack
from tests.integration.collections.support import (
    OPERATOR_TOKEN,
    Stack,
    assert_money_checks_pass,
    eventually,
    group_activated,
    member_with_mandate,
)
from tests.integration.collections.test_collections_cycle import _has_status, debits_out, started_cycle
from tests.integration.scheduler.support import scheduler_in_process, scheduler_settings
from tests.integration.stripe_sim.stripe_sim_harness import API_KEY, RunningSimulator, start_simulator

pytestmark = pytest.mark.integration

ROSCA = str(Path(sys.executable).with_name("rosca"))


@pytest.fixture
def own_sim() -> Iterator[RunningSimulator]:
    """A simulator of the test's own: a day's run accounts for every PaymentIntent of the day, and
    other tests' debits on a shared one would be strays here."""
    running = start_simulator()
    yield running
    running.stop()


@pytest.fixture
async def recon_stack(
    own_sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str
) -> AsyncIterator[Stack]:
    async with _collections_stack(
        own_sim, nats_server, postgres_admin_url, hears_stripe=False, operator_token=OPERATOR_TOKEN
    ) as running:
        yield running


async def funded_cycle(stack: Stack) -> tuple[Any, list[dict[str, Any]]]:
    """A three-member cycle debited, funded, paying out, with Stripe's fee on each debit booked."""
    plan, _ = await started_cycle(stack)
    intents = await debits_out(stack, plan.cycle_id, 3)
    stack.sim.advance(timedelta(seconds=3))
    await stack.deliver_stripe_events("payment_intent.succeeded", {pi["id"] for pi in intents})
    await eventually(lambda: _has_status(stack, plan.cycle_id, "paying_out"), "the cycle is paying out")

    async def fees_booked() -> bool:
        async with stack.database.transaction() as session:
            booked = await session.scalar(
                select(func.count())
                .select_from(ledger_transactions)
                .where(ledger_transactions.c.reference.startswith("debit-stripe-fee-"))
            )
        return booked == 3

    await eventually(fees_booked, "Stripe's fee on each debit is booked")
    return plan, stack.payment_intents_of_cycle(plan.cycle_id)


def day_of_intents(intents: list[dict[str, Any]]) -> date:
    (day,) = {day_of(datetime.fromtimestamp(pi["created"], UTC)) for pi in intents}
    return day


async def run_day(stack: Stack, day: date) -> Any:
    async with stack.database.transaction() as session:
        return await reconcile(
            session,
            StripeBooksReader(stack.sim.client()),
            Scope(day=day),
            trigger="test",
            now=datetime.now(UTC),
        )


async def test_a_clean_day_reconciles_to_zero(recon_stack: Stack) -> None:
    stack = recon_stack
    plan, intents = await funded_cycle(stack)
    day = day_of_intents(intents)

    record = await run_day(stack, day)
    assert record.differences == ()
    assert record.cycles_checked >= 1
    assert record.stripe_objects_read >= 3
    async with stack.database.transaction() as session:
        group_run = await reconcile(
            session,
            StripeBooksReader(stack.sim.client()),
            Scope(group_id=plan.group_id),
            trigger="test",
            now=datetime.now(UTC),
        )
    assert (group_run.cycles_checked, group_run.differences) == (3, ())


async def test_a_refund_behind_the_ledgers_back_and_a_stray_payment_intent_are_reported(
    recon_stack: Stack,
) -> None:
    stack = recon_stack
    plan, intents = await funded_cycle(stack)
    day = day_of_intents(intents)
    stripe = stack.sim.client()
    refunded = intents[0]
    refund = stripe.v1.refunds.create({"payment_intent": refunded["id"], "amount": 1_000})
    outsider = member_with_mandate(stack.sim, 9)
    stray = stripe.v1.payment_intents.create(
        {
            "amount": 1_234,
            "currency": "aud",
            "customer": outsider.customer_id,
            "payment_method": outsider.payment_method_id,
            "mandate": outsider.mandate_id,
            "allowed_payment_method_types": ["au_becs_debit"],
            "confirm": True,
        }
    )
    stack.sim.advance(timedelta(days=6))  # the refund settles, the stray debit succeeds

    record = await run_day(stack, day)
    found = {(d.kind, d.object_ids[0]): d for d in record.differences}
    assert set(found) == {
        (DifferenceKind.REFUNDED_DIFFERS, refunded["id"]),
        (DifferenceKind.DEBIT_UNKNOWN_TO_LEDGER, stray.id),
    }
    refund_difference = found[(DifferenceKind.REFUNDED_DIFFERS, refunded["id"])]
    assert (refund_difference.expected, refund_difference.actual, refund_difference.cycle_id) == (
        0,
        1_000,
        plan.cycle_id,
    )
    assert refund.id in refund_difference.object_ids
    stray_difference = found[(DifferenceKind.DEBIT_UNKNOWN_TO_LEDGER, stray.id)]
    assert (stray_difference.expected, stray_difference.actual) == (0, 1_234)

    async with httpx.AsyncClient(
        base_url=stack.service.base_url, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    ) as api:
        listed = (await api.get("/collections/operator/reconciliations")).json()
        (run,) = [r for r in listed["runs"] if r["run_id"] == str(record.run_id)]
        assert run["differences_total"] == 2
        assert run["differences_by_kind"] == {"debit_unknown_to_ledger": 1, "refunded_differs": 1}
        shown = (await api.get(f"/collections/operator/reconciliations/{record.run_id}")).json()
        assert sorted((d["kind"], d["expected"], d["actual"]) for d in shown["differences"]) == [
            ("debit_unknown_to_ledger", 0, 1_234),
            ("refunded_differs", 0, 1_000),
        ]
        missing = await api.get(f"/collections/operator/reconciliations/{UUID(int=1)}")
        assert (missing.status_code, missing.json()["error"]["type"]) == (404, "reconciliation_not_found")
        assert (
            await api.get("/collections/operator/reconciliations", headers={"Authorization": ""})
        ).status_code == 401

    async def announced() -> list[dict[str, Any]]:
        facts = await stack.published(COLLECTIONS.name, subjects.COLLECTIONS_RECONCILIATION_COMPLETED)
        return [f for f in facts if f["run_id"] == str(record.run_id)]

    await eventually(lambda: _nonempty(announced()), "the run is announced")
    (fact,) = await announced()
    assert (fact["differences_total"], fact["differences_truncated"]) == (2, False)
    assert {d["kind"] for d in fact["differences"]} == {"refunded_differs", "debit_unknown_to_ledger"}


async def test_the_daily_timer_runs_its_day_once_and_schedules_the_next(recon_stack: Stack) -> None:
    stack = recon_stack
    _, intents = await funded_cycle(stack)
    day = day_of_intents(intents)
    command = ReconcileDay(occurred_at=datetime.now(UTC), correlation_id="test", day=day)
    await stack.publish(subjects.COLLECTIONS_RECONCILE_DAY, command)
    await stack.publish(subjects.COLLECTIONS_RECONCILE_DAY, command, msg_id="again")  # a redelivery

    async def announced() -> list[dict[str, Any]]:
        facts = await stack.published(COLLECTIONS.name, subjects.COLLECTIONS_RECONCILIATION_COMPLETED)
        return [f for f in facts if f["run_id"] == str(scheduled_run_id(day))]

    await eventually(lambda: _nonempty(announced()), "the day's run is announced")
    await eventually(stack.outbox_empty, "everything is published")
    (fact,) = await announced()
    assert (fact["trigger"], fact["day"], fact["differences_total"]) == ("schedule", day.isoformat(), 0)
    timers = {t["timer_id"]: t for t in await stack.timers(subjects.COLLECTIONS_RECONCILE_DAY)}
    following = timers[f"collections:reconcile:{day + timedelta(days=1)}"]
    assert following["payload"]["day"] == (day + timedelta(days=1)).isoformat()


async def _nonempty(found: Any) -> bool:
    return bool(await found)


async def test_rosca_reconcile_exits_zero_on_a_clean_day_and_one_with_every_difference_printed(
    recon_stack: Stack, tmp_path: Path
) -> None:
    stack = recon_stack
    _, intents = await funded_cycle(stack)
    day = day_of_intents(intents)
    data_dir = stack_data_dir(stack, tmp_path)

    clean = await rosca_reconcile(data_dir, "--date", day.isoformat())
    assert clean.returncode == 0, clean.stderr
    assert "reconciled: the ledger and Stripe agree to the cent" in clean.stdout
    assert "listed 3 PaymentIntents created that day" in clean.stderr  # its progress

    refunded = intents[0]
    stack.sim.client().v1.refunds.create({"payment_intent": refunded["id"], "amount": 1_000})
    stack.sim.advance(timedelta(days=6))
    found = await rosca_reconcile(data_dir, "--date", day.isoformat())
    assert found.returncode == 1, found.stderr
    assert "1 differences:" in found.stdout
    (line,) = [line for line in found.stdout.splitlines() if "refunded_differs" in line]
    assert refunded["id"] in line
    assert "ledger 0.00  Stripe 10.00 aud" in line


def stack_data_dir(stack: Stack, tmp_path: Path) -> Path:
    """A data dir as ``rosca up`` leaves it for the stack under test: its stack.json (this process
    stands for the supervisor) and the settings it gave collections."""
    write_stack_state(
        tmp_path,
        StackState(
            supervisor_pid=os.getpid(),
            gateway_url="http://127.0.0.1:1",
            nats_url=stack.service.app.state.runtime.settings.nats_url,
            namespace=stack.namespace,
            clock="system",
            started_at=datetime.now(UTC).isoformat(),
        ),
    )
    settings = stack.service.app.state.runtime.settings
    values = {
        "ROSCA_COLLECTIONS_DATABASE_URL": stack.database.url,
        "ROSCA_COLLECTIONS_NATS_URL": settings.nats_url,
        "ROSCA_COLLECTIONS_NAMESPACE": stack.namespace,
        "ROSCA_COLLECTIONS_STRIPE_API_KEY": API_KEY,
        "ROSCA_COLLECTIONS_STRIPE_API_BASE_URL": stack.sim.base_url,
    }
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "collections.env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return tmp_path


async def rosca_reconcile(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ROSCA_")}
    return await asyncio.to_thread(
        subprocess.run,
        [ROSCA, "reconcile", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


async def test_the_daily_run_fires_on_the_simulated_clock_through_the_scheduler_one_day_at_a_time(
    own_sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str
) -> None:
    start = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)  # 11:00 on Monday 1 March in Sydney
    async with (
        _collections_stack(
            own_sim, nats_server, postgres_admin_url, hears_stripe=False, clock="simulated", clock_at=start
        ) as stack,
    ):
        with fresh_database(postgres_admin_url) as scheduler_database:
            settings = scheduler_settings(scheduler_database, nats_server.url, stack.namespace)
            async with scheduler_in_process(settings):

                async def days_run() -> list[date]:
                    async with stack.database.transaction() as session:
                        found, _ = await runs(session, day=None, limit=50, offset=0)
                    return sorted(run.day for run in found if run.trigger == "schedule" and run.day)

                async def ran(*days: date) -> bool:
                    return await days_run() == list(days)

                # At start, collections scheduled yesterday's run (due at 03:00 today: fired at once)
                # and today's (due at 03:00 tomorrow).
                await eventually(lambda: ran(date(2027, 2, 28)), "yesterday's run fires at once")
                await advance_simulated_clock(
                    stack.js, timedelta(hours=16), bucket=Namespace(stack.namespace).bucket(CLOCK_BUCKET)
                )  # 03:00 on 2 March in Sydney
                await eventually(lambda: ran(date(2027, 2, 28), date(2027, 3, 1)), "1 March's run fires")
                await advance_simulated_clock(
                    stack.js, timedelta(days=2), bucket=Namespace(stack.namespace).bucket(CLOCK_BUCKET)
                )
                await eventually(
                    lambda: ran(date(2027, 2, 28), date(2027, 3, 1), date(2027, 3, 2), date(2027, 3, 3)),
                    "each day's run schedules the next: the chain catches up day by day",
                )


class CountingReader(StripeBooksReader):
    """The reader, counting the PaymentIntents it had to fetch one by one."""

    fetched = 0

    async def intent(self, payment_intent_id: str) -> dict[str, Any] | None:
        self.fetched += 1
        return await super().intent(payment_intent_id)


@pytest.fixture
def sim_from_monday() -> Iterator[RunningSimulator]:
    """A simulator whose clock starts on MONDAY (a simulated clock never moves back to its own)."""
    running = start_simulator(start=MONDAY)
    yield running
    running.stop()


MONDAY = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)  # 11:00 in Sydney


async def test_a_later_days_run_checks_its_cycles_whole_with_debits_listed_from_their_start(
    sim_from_monday: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str
) -> None:
    """On one clock (the service's and Stripe's, as `rosca up` runs them): debits made on Monday,
    their success booked on Wednesday; Wednesday's run compares the cycle's Monday debits, found by
    one listing from the cycle's start rather than fetched one by one."""
    monday = MONDAY
    async with _collections_stack(
        sim_from_monday,
        nats_server,
        postgres_admin_url,
        hears_stripe=False,
        clock="simulated",
        clock_at=monday,
    ) as stack:
        members = [member_with_mandate(stack.sim, position) for position in (1, 2, 3)]
        activation = group_activated(members).model_copy(
            update={"start_date": day_of(monday), "activated_at": monday, "occurred_at": monday}
        )
        await stack.publish(subjects.ONBOARDING_GROUP_ACTIVATED, activation)
        cycle_id = plan_rotation(activation, BecsBusinessCalendar())[0].cycle_id

        async def start_timer() -> list[dict[str, Any]]:
            timers = await stack.timers(subjects.COLLECTIONS_START_CYCLE)
            return [t for t in timers if t["payload"]["cycle_id"] == str(cycle_id)]

        await eventually(lambda: _nonempty(start_timer()), "the first cycle's start is scheduled")
        await stack.fire_timer((await start_timer())[0])
        intents = await debits_out(stack, cycle_id, 3)
        stack.sim.advance(timedelta(days=2))
        await advance_simulated_clock(
            stack.js, timedelta(days=2), bucket=Namespace(stack.namespace).bucket(CLOCK_BUCKET)
        )
        await stack.deliver_stripe_events("payment_intent.succeeded", {pi["id"] for pi in intents})
        await eventually(lambda: _has_status(stack, cycle_id, "paying_out"), "the cycle is paying out")
        await assert_money_checks_pass(stack)

        wednesday = day_of(monday + timedelta(days=2))
        reader = CountingReader(stack.sim.client())
        async with stack.database.transaction() as session:
            record = await reconcile(
                session, reader, Scope(day=wednesday), trigger="test", now=monday + timedelta(days=2)
            )
        assert (record.cycles_checked, record.differences) == (1, ())
        assert record.stripe_objects_read == 3
        assert reader.fetched == 0
