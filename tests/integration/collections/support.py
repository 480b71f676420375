"""What the collections tests share: the service on a real port against the Stripe simulator,
members with BECS mandates made on the simulator, and ways to publish to and look into it.

No scheduler and no webhook gateway run: a test delivers a timer's payload to its target subject as
the scheduler would, and Stripe's events as the gateway would (the simulator's own events, through
the gateway's own normalization), so it chooses when, how often and in which order they arrive.
"""

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import func, select

from contracts import subjects
from contracts.messages import Message
from contracts.onboarding import ActivatedMember, GroupActivated, GroupPolicy
from contracts.streams import COLLECTIONS, PAYOUTS, SCHEDULER
from rosca.money_checker import check_money
from rosca.stack.ports import free_port
from services.collections.settings import CollectionsSettings
from services.collections.store.tables import contributions, cycles
from services.runtime.db import Database
from services.runtime.naming import Namespace
from services.runtime.outbox import message_headers
from services.runtime.tables import outbox
from services.webhooks.normalize import normalize
from tests.integration.onboarding.support import ServedInThread
from tests.integration.stripe_sim.becs_fixtures import saved_becs_customer
from tests.integration.stripe_sim.stripe_sim_harness import API_KEY, RunningSimulator

SUCCEEDS = "000123456"
DISPUTED_AT_ONCE = "666666660"
REFER_TO_CUSTOMER = "222222227"  # how BECS reports insufficient funds: a passing failure
# What the API tests' stack takes: member tokens signed with this secret, this operator token, and a
# simulated clock starting on a Monday (11:00 in Sydney) that the test moves.
JWT_SECRET = "collections-api-tests-jwt-secret-0123456789"
JWT_AUDIENCE = "rosca"
OPERATOR_TOKEN = "collections-operator-token-0123456789"
API_CLOCK_START = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)
POLICY = GroupPolicy(
    attempt_limit=3, retry_spacing_business_days=1, collection_window_business_days=10, platform_fee_bps=100
)


def collections_settings(
    database_url: str, nats_url: str, namespace: str, sim: RunningSimulator, **overrides: Any
) -> CollectionsSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "nats_url": nats_url,
        "namespace": namespace,
        "http_port": free_port(),
        "stripe_api_key": API_KEY,
        "stripe_api_base_url": sim.base_url,
        "consumer_backoff_seconds": (0.2,),
        "consumer_max_deliver": 50,
        **overrides,
    }
    return CollectionsSettings.model_validate(values)


@dataclass
class Wiring:
    """What a test needs to talk to a collections service and look into it, wherever it runs
    (in this process, or as its own OS process)."""

    sim: RunningSimulator
    js: JetStreamContext
    namespace: str
    database: Database

    # Input.

    async def publish(
        self, subject: str, message: Message | dict[str, Any], *, msg_id: str | None = None
    ) -> None:
        body = message if isinstance(message, dict) else message.model_dump(mode="json")
        headers = message_headers(message) if isinstance(message, Message) else {}
        headers["Nats-Msg-Id"] = msg_id or str(body["message_id"])
        await self.js.publish(
            Namespace(self.namespace).subject(subject), json.dumps(body).encode(), headers=headers
        )

    async def fire_timer(self, schedule: dict[str, Any], *, msg_id: str | None = None) -> None:
        """Publish a scheduled timer's payload to its target, as the scheduler does when it is due."""
        await self.publish(
            schedule["target_subject"], schedule["payload"], msg_id=msg_id or f"timer:{schedule['timer_id']}"
        )

    async def deliver_stripe_events(self, event_type: str, object_ids: set[str]) -> list[dict[str, Any]]:
        """The simulator's events of ``event_type`` about ``object_ids``, published as the gateway would."""
        events = [e for e in self.stripe_events(event_type) if e["data"]["object"]["id"] in object_ids]
        for event in events:
            message = normalize(event)
            await self.publish(subjects.stripe_event(event_type), message)
        return events

    # The simulator's books.

    def stripe_get(self, path: str, **params: Any) -> dict[str, Any]:
        answer = self.sim.control.get(
            f"{self.sim.base_url}{path}", params=params, headers={"Authorization": f"Bearer {API_KEY}"}
        )
        answer.raise_for_status()
        found: dict[str, Any] = answer.json()
        return found

    def stripe_events(self, event_type: str) -> list[dict[str, Any]]:
        """The simulator's events of ``event_type``, oldest first, read from its store (so also
        while its API drops every connection)."""
        held = self.sim.app.sim.objects.newest_first("event", None)
        return [dict(event.body) for event in reversed(list(held)) if event.body["type"] == event_type]

    def payment_intents_of_cycle(self, cycle_id: UUID) -> list[dict[str, Any]]:
        intents: list[dict[str, Any]] = self.stripe_get("/v1/payment_intents", limit=100)["data"]
        return [pi for pi in intents if pi["metadata"].get("cycle_id") == str(cycle_id)]

    def intents_held_by_simulator(self, cycle_id: UUID) -> list[dict[str, Any]]:
        """The simulator's PaymentIntents of the cycle, read from its store (works while its API
        drops every connection)."""
        held = self.sim.app.sim.objects.newest_first("payment_intent", None)
        return [dict(o.body) for o in held if o.body.get("metadata", {}).get("cycle_id") == str(cycle_id)]

    # What the service published and holds.

    async def consumers_idle(self, stream: str, *durables: str) -> bool:
        names = Namespace(self.namespace)
        for durable in durables:
            try:
                info = await self.js.consumer_info(names.stream(stream), names.durable(durable))
            except NotFoundError:
                return False
            if info.num_pending or info.num_ack_pending:
                return False
        return True

    async def published(self, stream: str, subject: str | None = None) -> list[dict[str, Any]]:
        names = Namespace(self.namespace)
        try:
            state = (await self.js.stream_info(names.stream(stream))).state
        except NotFoundError:
            return []
        found = []
        for sequence in range(state.first_seq, state.last_seq + 1) if state.messages else ():
            try:
                raw = await self.js.get_msg(names.stream(stream), sequence)
            except NotFoundError:
                continue
            assert raw.subject is not None
            assert raw.data is not None
            logical = names.logical_subject(raw.subject)
            if subject is None or logical == subject:
                found.append({"subject": logical, **json.loads(raw.data)})
        return found

    async def timers(self, target_subject: str) -> list[dict[str, Any]]:
        schedules = await self.published(SCHEDULER.name, subjects.SCHEDULER_SCHEDULE)
        return [s for s in schedules if s["target_subject"] == target_subject]

    async def pay_cycle_commands(self) -> list[dict[str, Any]]:
        return await self.published(PAYOUTS.name, subjects.PAYOUTS_PAY_CYCLE)

    async def cycle_facts(self, cycle_id: UUID) -> list[str]:
        """The cycle saga's status facts of the cycle (not the rotation's facts that name it)."""
        facts = await self.published(COLLECTIONS.name)
        return [
            f["subject"]
            for f in facts
            if f["subject"].startswith("collections.evt.cycle_") and f["cycle_id"] == str(cycle_id)
        ]

    async def rotation_facts(self, group_id: UUID) -> list[dict[str, Any]]:
        """The rotation saga's facts of the group, oldest first."""
        facts = await self.published(COLLECTIONS.name)
        return [
            f
            for f in facts
            if f["subject"].startswith("collections.evt.")
            and not f["subject"].startswith("collections.evt.cycle_")
            and f["group_id"] == str(group_id)
        ]

    async def cycle_status(self, cycle_id: UUID) -> str | None:
        async with self.database.transaction() as session:
            status: str | None = await session.scalar(
                select(cycles.c.status).where(cycles.c.cycle_id == cycle_id)
            )
        return status

    async def contributions_of(self, cycle_id: UUID) -> list[dict[str, Any]]:
        async with self.database.transaction() as session:
            rows = await session.execute(
                select(contributions)
                .where(contributions.c.cycle_id == cycle_id)
                .order_by(contributions.c.member_id)
            )
            return [dict(row._mapping) for row in rows]

    async def outbox_empty(self) -> bool:
        async with self.database.transaction() as session:
            waiting = await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
        return not waiting


@dataclass
class Stack(Wiring):
    """The service served in a thread of this process."""

    service: ServedInThread


async def assert_money_checks_pass(wiring: Wiring, *, transfers_on_stripe: bool = False) -> None:
    """The money checker on the test's books and the simulator's: every invariant holds.
    ``transfers_on_stripe`` stays False while a test plays payouts' part (no transfer is made)."""
    # The books settle on their own time (Stripe's fee is read apart from the saga): a few tries.
    for _ in range(50):
        report = await check_money(
            wiring.database.url, wiring.sim.client(), transfers_on_stripe=transfers_on_stripe
        )
        if report.passed:
            break
        await asyncio.sleep(0.2)
    assert report.passed, report.describe()
    assert report.transactions_checked > 0, "the checker found no books to check"


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20.0) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not await check():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting until {what}") from None


def member_with_mandate(
    sim: RunningSimulator, position: int, account_number: str = SUCCEEDS
) -> ActivatedMember:
    """A member whose BECS account was saved on the simulator (an active mandate)."""
    customer, setup = saved_becs_customer(sim.client(), account_number)
    assert isinstance(setup.payment_method, str)
    assert isinstance(setup.mandate, str)
    return ActivatedMember(
        position=position,
        member_id=f"member-{position}-{uuid.uuid4().hex[:8]}",
        customer_id=customer.id,
        payment_method_id=setup.payment_method,
        mandate_id=setup.mandate,
        connected_account_id=f"acct_{uuid.uuid4().hex[:16]}",
    )


def group_activated(members: list[ActivatedMember], *, amount: int = 5_000) -> GroupActivated:
    group_id = uuid.uuid4()
    now = datetime.now(UTC)
    return GroupActivated(
        occurred_at=now,
        correlation_id=str(group_id),
        group_id=group_id,
        name="Test circle",
        admin_member_id=members[0].member_id,
        contribution_amount=amount,
        currency="aud",
        cadence="fortnightly",
        start_date=date_in_sydney(now),
        timezone="Australia/Sydney",
        size=len(members),
        policy=POLICY,
        payout_order_method="fixed",
        draw=None,
        members=members,
        activated_at=now,
    )


def date_in_sydney(moment: datetime) -> date:
    return moment.astimezone(ZoneInfo("Australia/Sydney")).date()
