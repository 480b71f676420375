"""Stripe's reports applied a batch at a time by collections' report consumers (the runtime's batch
mode), on real NATS JetStream and Postgres: duplicates and a poison report in one batch, successes
heard before their debit's processing, two replicas on one durable.

The groups are activated and their first cycles started through the service's own code, and the
reports are the gateway's messages for the bodies Stripe would send (``normalize``), so no Stripe
is needed: what is under test is the reports' way into the cycles.
"""

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import stripe
from nats.js import JetStreamContext
from sqlalchemy import func, select, text, update

from contracts import subjects
from contracts.collections import StartCycle
from contracts.deadletter import MessageDeadLettered
from contracts.onboarding import ActivatedMember
from contracts.streams import DEADLETTER, STRIPE
from contracts.stripe_events import StripeEventReceived
from services.collections.deps import Collections
from services.collections.domain.rotation import CyclePlan, PlannedContribution, plan_rotation
from services.collections.handlers import router
from services.collections.main import DEFINITION
from services.collections.service_layer import rotations
from services.collections.service_layer.cycle_steps import BUSINESS_DAYS
from services.collections.service_layer.outgoing import message_id_for
from services.collections.settings import CollectionsSettings
from services.collections.store.cycles import state_of
from services.collections.store.ledger import transactions_of_cycle
from services.collections.store.tables import contributions, cycles, debit_attempts
from services.collections.stripe import StripeCollections
from services.collections.stripe_books import StripeBooksReader
from services.runtime.clock import SystemClock
from services.runtime.consumer import Consumer, ConsumerPolicy
from services.runtime.db import Database
from services.runtime.migrations import upgrade_to_head
from services.runtime.naming import Namespace
from services.runtime.outbox import message_headers
from services.runtime.streams import StreamSettings, provision_streams
from services.runtime.tables import inbox, outbox
from services.webhooks.normalize import normalize
from tests.integration.collections.support import eventually, group_activated
from tests.integration.helpers import running

pytestmark = pytest.mark.integration

PROCESSING, SUCCEEDED = "payment_intent.processing", "payment_intent.succeeded"
DURABLES = {
    PROCESSING: "collections-payment-intent-processing",
    SUCCEEDED: "collections-payment-intent-succeeded",
}
AMOUNT = 5_000


@dataclass(frozen=True)
class Debit:
    plan: CyclePlan
    planned: PlannedContribution
    payment_intent_id: str
    charge_id: str


@dataclass
class Books:
    """The test's service parts: its database, its namespace on the shared NATS, its cycles."""

    js: JetStreamContext
    database: Database
    names: Namespace
    dependencies: Collections
    plans: list[CyclePlan]
    started_versions: dict[uuid.UUID, int]

    def debits(self) -> list[Debit]:
        return [
            Debit(plan, planned, f"pi_{uuid.uuid4().hex[:24]}", f"py_{uuid.uuid4().hex[:24]}")
            for plan in self.plans
            for planned in plan.contributions
        ]

    def consumer(self, event_type: str, *, max_messages: int = 200, max_deliver: int = 5) -> Consumer:
        """A report consumer as the service runs it (batch mode), on its durable."""
        (subscription,) = [s for s in router.subscriptions if s.subject == subjects.stripe_event(event_type)]
        return Consumer(
            "collections",
            subscription,
            js=self.js,
            database=self.database,
            namespace=self.names,
            clock=SystemClock(),
            policy=ConsumerPolicy(
                max_deliver=max_deliver,
                backoff_seconds=(0.1,),
                ack_wait_seconds=10.0,
                batch_max_messages=max_messages,
                batch_max_wait_seconds=0.02,
            ),
            dependencies=self.dependencies,
        )

    async def publish(self, event: StripeEventReceived, *, msg_id: str | None = None) -> None:
        """As the gateway publishes; ``msg_id`` sends a copy past JetStream's duplicate check."""
        headers = message_headers(event)
        headers["Nats-Msg-Id"] = msg_id or event.event_id
        await self.js.publish(
            self.names.subject(subjects.stripe_event(event.event_type)),
            event.model_dump_json().encode(),
            headers=headers,
        )

    async def idle(self, *event_types: str) -> bool:
        """The consumers of these reports (of both kinds if none named) have acked everything."""
        for durable in [DURABLES[kind] for kind in event_types or DURABLES]:
            try:
                info = await self.js.consumer_info(
                    self.names.stream(STRIPE.name), self.names.durable(durable)
                )
            except Exception:  # not subscribed yet
                return False
            if info.num_pending or info.num_ack_pending:
                return False
        return True

    async def rows(self, query: Any) -> list[Any]:
        async with self.database.transaction() as session:
            return list((await session.execute(query)).all())


def report(debit: Debit, event_type: str) -> StripeEventReceived:
    """The gateway's message for Stripe's event about the debit (a body like the simulator's)."""
    status = event_type.rsplit(".", 1)[1]
    plan, moment = debit.plan, int(datetime.now(UTC).timestamp())
    metadata = {
        "group_id": str(plan.group_id),
        "cycle_id": str(plan.cycle_id),
        "cycle_number": str(plan.cycle_number),
        "member_id": debit.planned.member.member_id,
        "contribution_id": str(debit.planned.contribution_id),
        "attempt": "1",
    }
    return normalize(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": moment,
            "data": {
                "object": {
                    "id": debit.payment_intent_id,
                    "object": "payment_intent",
                    "amount": AMOUNT,
                    "amount_received": AMOUNT if status == "succeeded" else 0,
                    "currency": "aud",
                    "customer": debit.planned.member.customer_id,
                    "latest_charge": debit.charge_id,
                    "metadata": metadata,
                    "payment_method": debit.planned.member.payment_method_id,
                    "payment_method_types": ["au_becs_debit"],
                    "status": status,
                    "transfer_group": plan.transfer_group,
                    "last_payment_error": None,
                    "livemode": False,
                    "created": moment - 60,
                },
            },
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": f"contribution-{debit.planned.contribution_id}-1"},
            "type": event_type,
        }
    )


def member(position: int) -> ActivatedMember:
    return ActivatedMember(
        position=position,
        member_id=f"member-{uuid.uuid4().hex[:12]}",
        customer_id=f"cus_{uuid.uuid4().hex[:14]}",
        payment_method_id=f"pm_{uuid.uuid4().hex[:24]}",
        mandate_id=f"mandate_{uuid.uuid4().hex[:24]}",
        connected_account_id=f"acct_{uuid.uuid4().hex[:16]}",
    )


async def started_cycles(database: Database, groups: int, members: int) -> list[CyclePlan]:
    """Activated groups, each with its first cycle collecting: every debit asked, none answered."""
    plans = []
    async with database.transaction() as session:
        for _ in range(groups):
            activated = group_activated([member(p) for p in range(1, members + 1)], amount=AMOUNT)
            now = datetime.now(UTC)
            await rotations.on_group_activated(session, activated, now)
            plan = plan_rotation(activated, BUSINESS_DAYS)[0]
            start = {
                "occurred_at": now,
                "correlation_id": str(plan.cycle_id),
                "message_id": message_id_for(f"test-start-{plan.cycle_id}"),
                "group_id": plan.group_id,
                "cycle_id": plan.cycle_id,
                "cycle_number": plan.cycle_number,
            }
            assert await rotations.on_start_cycle(session, StartCycle.model_validate(start), now)
            plans.append(plan)
        # The debits were asked of Stripe (not here): only what the reports cause is of interest.
        await session.execute(update(outbox).values(published_at=func.now()))
    return plans


@pytest.fixture
async def books(js: JetStreamContext, namespace: str, database_url: str) -> AsyncIterator[Books]:
    await asyncio.to_thread(upgrade_to_head, DEFINITION.migrations_dir, database_url)
    names = Namespace(namespace)
    await provision_streams(js, names, StreamSettings())
    settings = CollectionsSettings.model_validate(
        {
            "database_url": database_url,
            "namespace": namespace,
            "stripe_api_key": "sk_test_never_called",
            "stripe_api_base_url": "http://127.0.0.1:9",
        }
    )
    never_called = stripe.StripeClient("sk_test_never_called")
    dependencies = Collections(settings, StripeCollections(never_called), StripeBooksReader(never_called))
    database = Database(database_url)
    yield Books(js, database, names, dependencies, [], {})
    await database.dispose()


async def seed(books: Books, groups: int, members: int) -> None:
    books.plans = await started_cycles(books.database, groups, members)
    rows = await books.rows(select(cycles.c.cycle_id, cycles.c.version))
    books.started_versions = {row.cycle_id: row.version for row in rows}


async def cycle_rows(books: Books) -> dict[uuid.UUID, Any]:
    ids = [plan.cycle_id for plan in books.plans]
    rows = await books.rows(select(cycles).where(cycles.c.cycle_id.in_(ids)))
    return {row.cycle_id: row for row in rows}


async def assert_projection_matches_states(books: Books, plans: list[CyclePlan]) -> None:
    """Every contribution and attempt row of these cycles says what its cycle's saved state says."""
    rows = await cycle_rows(books)
    for row in (rows[plan.cycle_id] for plan in plans):
        state = state_of(row.state)
        stored = {
            r.contribution_id: r
            for r in await books.rows(select(contributions).where(contributions.c.cycle_id == row.cycle_id))
        }
        attempts = {
            r.contribution_id: r
            for r in await books.rows(select(debit_attempts).where(debit_attempts.c.cycle_id == row.cycle_id))
        }
        for contribution in state.contributions:
            projected = stored[contribution.contribution_id]
            assert (projected.status, projected.payment_intent_id, projected.charge_id) == (
                contribution.status.value,
                contribution.payment_intent_id,
                contribution.charge_id,
            )
            attempt = attempts[contribution.contribution_id]
            assert (attempt.status, attempt.payment_intent_id) == (
                contribution.status.value,
                contribution.payment_intent_id,
            )


async def outbox_subjects(books: Books) -> list[str]:
    return [
        row.subject
        for row in await books.rows(select(outbox.c.subject).where(outbox.c.published_at.is_(None)))
    ]


async def transactions_of_inbox(books: Books, durable: str) -> int:
    """How many transactions recorded the durable's inbox rows (``xmin``: the one that inserted each)."""
    async with books.database.transaction() as session:
        found = await session.scalar(
            text("SELECT count(DISTINCT xmin::text) FROM inbox WHERE consumer = :consumer"),
            {"consumer": durable},
        )
    return int(found or 0)


async def test_duplicates_and_a_poison_report_in_one_batch_only_the_poison_dead_letters(books: Books) -> None:
    await seed(books, groups=3, members=3)
    healthy, poisoned = books.plans[:2], books.plans[2]
    # A cycle the service cannot read: every report of it fails, whoever applies it.
    async with books.database.transaction() as session:
        await session.execute(
            update(cycles).where(cycles.c.cycle_id == poisoned.cycle_id).values(state={"unreadable": True})
        )
    debits = [d for d in books.debits() if d.plan in healthy]
    (poison_debit, *_) = [d for d in books.debits() if d.plan == poisoned]
    reports = [report(d, PROCESSING) for d in debits]
    poison = report(poison_debit, PROCESSING)
    for event in [*reports[:3], poison, *reports[3:]]:
        await books.publish(event)
    await books.publish(reports[0], msg_id="copy-beyond-the-window")  # the inbox's to drop
    await books.publish(reports[4], msg_id="another-copy")
    dead_letters = await books.js.subscribe(
        books.names.subject(subjects.dead_letter("collections", DURABLES[PROCESSING])),
        stream=books.names.stream(DEADLETTER.name),
    )

    # Started after every report is waiting: its first batch holds them all.
    async with running(books.consumer(PROCESSING, max_deliver=3)):
        dead = MessageDeadLettered.model_validate_json((await dead_letters.next_msg(timeout=20)).data)
        await eventually(lambda: books.idle(PROCESSING), "every report settled")
        with pytest.raises(asyncio.TimeoutError):
            await dead_letters.next_msg(timeout=0.5)

    assert dead.causation_id == poison.message_id
    assert dead.deliveries == 3
    rows = await cycle_rows(books)
    for plan in healthy:
        state = state_of(rows[plan.cycle_id].state)
        assert [c.status.value for c in state.contributions] == ["processing"] * 3
        assert rows[plan.cycle_id].version == books.started_versions[plan.cycle_id] + 3  # one save a report
    assert rows[poisoned.cycle_id].version == books.started_versions[poisoned.cycle_id]
    inbox_ids = {r.message_id for r in await books.rows(select(inbox.c.message_id))}
    assert inbox_ids == {event.message_id for event in reports}
    await assert_projection_matches_states(books, healthy)


async def test_successes_heard_before_processing_end_with_every_cycle_paying_out_once(books: Books) -> None:
    await seed(books, groups=4, members=5)
    debits = books.debits()
    successes = [report(d, SUCCEEDED) for d in debits]
    random.Random(7).shuffle(successes)  # across cycles, in no order
    for event in successes:
        await books.publish(event)
    for event in successes[::4]:
        await books.publish(event, msg_id=f"again-{event.event_id}")

    # Small batches: a cycle's successes span batches, and a batch funds cycles midway.
    processing_consumer = books.consumer(PROCESSING, max_messages=7)
    async with running(books.consumer(SUCCEEDED, max_messages=7), processing_consumer):
        await eventually(books.idle, "every success applied")
        for debit in debits:  # Stripe's processing, late: the debits are past it
            await books.publish(report(debit, PROCESSING))
        await eventually(books.idle, "every processing report taken")

    rows = await cycle_rows(books)
    for plan in books.plans:
        row = rows[plan.cycle_id]
        assert row.status == "paying_out"
        assert [c.status.value for c in state_of(row.state).contributions] == ["succeeded"] * 5
        # One save a success; the late processing reports and the copies changed nothing.
        assert row.version == books.started_versions[plan.cycle_id] + 5
        async with books.database.transaction() as session:
            references = sorted(t.reference for t in await transactions_of_cycle(session, plan.cycle_id))
        assert [r for r in references if r.startswith("debit-collected-")] == sorted(
            f"debit-collected-{c.contribution_id}-1" for c in plan.contributions
        )
    sent = await outbox_subjects(books)
    assert sent.count(subjects.PAYOUTS_PAY_CYCLE) == len(books.plans)
    assert sent.count(subjects.COLLECTIONS_READ_CHARGE_FEE) == len(debits)
    await assert_projection_matches_states(books, books.plans)
    # Applied in batches, not one by one.
    assert await transactions_of_inbox(books, DURABLES[SUCCEEDED]) < len(debits)


async def test_two_replicas_on_each_durable_apply_every_report_once(books: Books) -> None:
    await seed(books, groups=10, members=4)
    debits = books.debits()
    replicas = [books.consumer(kind, max_messages=10) for kind in (PROCESSING, SUCCEEDED) for _ in range(2)]
    async with running(*replicas):
        for debit in debits:
            processing = report(debit, PROCESSING)
            await books.publish(processing)
            await books.publish(processing, msg_id=f"copy-{processing.event_id}")  # for the other replica
        for debit in debits:
            await books.publish(report(debit, SUCCEEDED))
        await eventually(books.idle, "every report applied", timeout=60)

    rows = await cycle_rows(books)
    for plan in books.plans:
        row = rows[plan.cycle_id]
        assert row.status == "paying_out"
        assert [c.status.value for c in state_of(row.state).contributions] == ["succeeded"] * 4
    sent = await outbox_subjects(books)
    assert sent.count(subjects.PAYOUTS_PAY_CYCLE) == len(books.plans)
    assert sent.count(subjects.COLLECTIONS_READ_CHARGE_FEE) == len(debits)
    assert len(await books.rows(select(inbox.c.message_id))) == 2 * len(debits)
    await assert_projection_matches_states(books, books.plans)
    info = await books.js.stream_info(books.names.stream(DEADLETTER.name))
    assert info.state.messages == 0
