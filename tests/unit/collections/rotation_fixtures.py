"""Test data for the rotation saga: an activated group's rotation, and a driver that feeds it."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from contracts.onboarding import GroupActivated, GroupPolicy
from services.collections.domain.ledger import Ledger
from services.collections.domain.rotation import plan_rotation
from services.collections.domain.rotation_commands import RotationCommand
from services.collections.domain.rotation_messages import (
    CycleReported,
    DissolveGroup,
    RemoveMembers,
    RetryRound,
    RotationMessage,
)
from services.collections.domain.rotation_saga import decide_rotation
from services.collections.domain.rotation_state import (
    CycleProgress,
    RotationCycle,
    RotationState,
    RotationStatus,
)
from services.collections.domain.rotation_step import RotationDecision
from tests.unit.collections.cycle_fixtures import BECS, activation

SomeCommand = TypeVar("SomeCommand", bound=RotationCommand)


def activated_rotation(group: GroupActivated | None = None) -> RotationState:
    group = group or activation()
    return RotationState.activated(group, plan_rotation(group, BECS))


@dataclass
class RotationRun:
    """Feeds messages to ``decide_rotation`` as a handler would, keeping state, ledger and commands."""

    state: RotationState
    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, tzinfo=UTC))
    ledger: Ledger = field(default_factory=Ledger)
    sent: list[RotationCommand] = field(default_factory=list)

    @classmethod
    def of(cls, group: GroupActivated | None = None) -> "RotationRun":
        return cls(activated_rotation(group))

    @property
    def admin(self) -> str:
        return self.state.activation.admin_member_id

    def apply(self, message: RotationMessage) -> RotationDecision:
        decision = decide_rotation(self.state, message, self.now, BECS)
        self.ledger = self.ledger.post_all(decision.postings)
        self.state = decision.new_state
        self.sent.extend(decision.commands)
        return decision

    def cycle(self, index: int) -> RotationCycle:
        """The ``index``-th cycle still to run, running or awaiting a decision, in order."""
        live = [
            c
            for c in self.state.cycles
            if c.progress in (CycleProgress.PLANNED, CycleProgress.RUNNING, CycleProgress.CANCELLED)
        ]
        return live[index]

    def report(self, cycle: RotationCycle, status: str, *defaulting: str) -> RotationDecision:
        return self.apply(CycleReported(self.now, cycle.cycle_id, status, tuple(defaulting)))

    def pay(self, cycle: RotationCycle) -> RotationDecision:
        self.report(cycle, "collecting")
        self.report(cycle, "funded")
        self.report(cycle, "paying_out")
        return self.report(cycle, "completed")

    def cancel(self, cycle: RotationCycle, *defaulting: str) -> RotationDecision:
        self.report(cycle, "collecting")
        self.report(cycle, "cancelling", *defaulting)
        return self.report(cycle, "cancelled", *defaulting)

    def retry(self, cycle: RotationCycle, start_on: date | None = None) -> RotationDecision:
        return self.apply(RetryRound(self.now, self.admin, cycle.cycle_id, start_on))

    def remove(self, cycle: RotationCycle, *members: str) -> RotationDecision:
        return self.apply(RemoveMembers(self.now, self.admin, cycle.cycle_id, tuple(members)))

    def dissolve(self, cycle: RotationCycle) -> RotationDecision:
        return self.apply(DissolveGroup(self.now, self.admin, cycle.cycle_id))

    def pass_days(self, days: int) -> None:
        self.now += timedelta(days=days)

    def sent_of(self, kind: type[SomeCommand]) -> list[SomeCommand]:
        return [command for command in self.sent if isinstance(command, kind)]

    def status(self) -> RotationStatus:
        return self.state.status


# A five-business-day window: a fortnightly cycle ends before the next one starts.
SHORT_WINDOW = GroupPolicy(
    attempt_limit=3, retry_spacing_business_days=1, collection_window_business_days=5, platform_fee_bps=0
)


def rotation(size: int = 3) -> RotationRun:
    return RotationRun.of(activation(size=size, policy=SHORT_WINDOW))


def cancelled_first_round(run: RotationRun, *defaulting: str) -> None:
    first = run.cycle(0)
    run.now = first.plan.deadline_at
    run.cancel(first, *defaulting)


def member(run: RotationRun, position: int) -> str:
    """The member at payout position ``position`` (whether still in the rotation or not)."""
    return next(m.member_id for m in run.state.activation.members if m.position == position)
