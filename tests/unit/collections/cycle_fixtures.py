"""Test data for the collections domain: an activated group, its first cycle, and a driver for it."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar
from uuid import UUID, uuid4

from contracts.onboarding import ActivatedMember, Cadence, GroupActivated, GroupPolicy
from services.collections.calendar import BecsBusinessCalendar
from services.collections.domain.commands import Command
from services.collections.domain.contribution import Contribution, PaymentMethodRef
from services.collections.domain.cycle import CycleState, CycleStatus
from services.collections.domain.ledger import Ledger
from services.collections.domain.messages import (
    CycleStarted,
    MemberMandate,
    PaymentIntentFailed,
    PaymentIntentProcessing,
    PaymentIntentSucceeded,
    SagaMessage,
)
from services.collections.domain.rotation import plan_rotation
from services.collections.domain.saga import decide
from services.collections.domain.step import Decision

BECS = BecsBusinessCalendar()
SomeCommand = TypeVar("SomeCommand", bound=Command)
DEFAULT_POLICY = GroupPolicy(
    attempt_limit=3, retry_spacing_business_days=1, collection_window_business_days=10, platform_fee_bps=0
)


def activation(
    *,
    size: int = 3,
    cadence: Cadence = "fortnightly",
    start_date: date = date(2026, 3, 16),
    policy: GroupPolicy = DEFAULT_POLICY,
    amount: int = 5_000,
    timezone: str = "Australia/Sydney",
) -> GroupActivated:
    group_id = uuid4()
    members = [
        ActivatedMember(
            position=position,
            member_id=f"member-{position}-{uuid4().hex[:8]}",
            customer_id=f"cus_{uuid4().hex[:14]}",
            payment_method_id=f"pm_{uuid4().hex[:14]}",
            mandate_id=f"mandate_{uuid4().hex[:14]}",
            connected_account_id=f"acct_{uuid4().hex[:14]}",
        )
        for position in range(1, size + 1)
    ]
    return GroupActivated(
        occurred_at=datetime(2026, 3, 1, tzinfo=UTC),
        correlation_id=str(group_id),
        group_id=group_id,
        name="Test circle",
        admin_member_id=members[0].member_id,
        contribution_amount=amount,
        currency="aud",
        cadence=cadence,
        start_date=start_date,
        timezone=timezone,
        size=size,
        policy=policy,
        payout_order_method="fixed",
        draw=None,
        members=members,
        activated_at=datetime(2026, 3, 1, tzinfo=UTC),
    )


def first_cycle(group: GroupActivated | None = None) -> CycleState:
    return CycleState.scheduled(plan_rotation(group or activation(), BECS)[0])


def mandates(state: CycleState, *, inactive: frozenset[str] = frozenset()) -> tuple[MemberMandate, ...]:
    return tuple(
        MemberMandate(
            c.member_id,
            PaymentMethodRef(
                customer_id=c.payment_method.customer_id,
                payment_method_id=c.payment_method.payment_method_id,
                mandate_id=c.payment_method.mandate_id,
                mandate_active=c.member_id not in inactive,
            ),
        )
        for c in state.contributions
    )


def pi_id(contribution_id: UUID, attempt: int) -> str:
    return f"pi_{contribution_id.hex[:12]}_{attempt}"


def charge_id(contribution_id: UUID, attempt: int) -> str:
    return f"ch_{contribution_id.hex[:12]}_{attempt}"


@dataclass
class CycleRun:
    """Feeds messages to ``decide`` as a handler would, keeping the state, the ledger and every
    command sent; ``now`` is the platform clock, moved by the test."""

    state: CycleState
    now: datetime
    ledger: Ledger = field(default_factory=Ledger)
    sent: list[Command] = field(default_factory=list)

    def apply(self, message: SagaMessage) -> Decision:
        decision = decide(self.state, message, BECS, self.now)
        self.ledger = self.ledger.post_all(decision.postings)
        self.state = decision.new_state
        self.sent.extend(decision.commands)
        return decision

    def contribution(self, index: int) -> Contribution:
        return self.state.contributions[index]

    def start(self, *, inactive: frozenset[str] = frozenset()) -> Decision:
        return self.apply(CycleStarted(self.now, mandates(self.state, inactive=inactive)))

    def processing(self, index: int) -> Decision:
        c = self.contribution(index)
        return self.apply(
            PaymentIntentProcessing(
                self.now, c.contribution_id, c.attempt, pi_id(c.contribution_id, c.attempt)
            )
        )

    def succeed(self, index: int, *, attempt: int | None = None) -> Decision:
        c = self.contribution(index)
        attempt = attempt or c.attempt
        return self.apply(
            PaymentIntentSucceeded(
                self.now,
                c.contribution_id,
                attempt,
                pi_id(c.contribution_id, attempt),
                charge_id(c.contribution_id, attempt),
            )
        )

    def fail(self, index: int, code: str | None) -> Decision:
        c = self.contribution(index)
        return self.apply(
            PaymentIntentFailed(
                self.now, c.contribution_id, c.attempt, pi_id(c.contribution_id, c.attempt), code
            )
        )

    def pass_days(self, days: int) -> None:
        self.now += timedelta(days=days)

    def sent_of(self, kind: type[SomeCommand]) -> list[SomeCommand]:
        return [command for command in self.sent if isinstance(command, kind)]

    def status(self) -> CycleStatus:
        """The cycle's status (a call, so mypy's narrowing after one assert does not stick to it)."""
        return self.state.status


def started_run(group: GroupActivated | None = None) -> CycleRun:
    state = first_cycle(group)
    run = CycleRun(state, state.plan.start_at)
    run.start()
    return run


def collected_run(group: GroupActivated | None = None) -> CycleRun:
    """A started cycle whose every debit is processing."""
    run = started_run(group)
    for index in range(len(run.state.contributions)):
        run.processing(index)
    return run
