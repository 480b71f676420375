"""The rotation's state: the group's terms, its cycles in the order they run, its members, their
debts after disputes, and the admin's decisions so far."""

from dataclasses import dataclass, replace
from enum import StrEnum
from uuid import UUID

from contracts.onboarding import ActivatedMember, GroupActivated
from services.collections.domain.rotation import CyclePlan
from services.collections.domain.rotation_messages import RoundDecision
from services.collections.domain.rotation_schedule import start_timer_id


class RotationStatus(StrEnum):
    RUNNING = "running"
    AWAITING_ADMIN_DECISION = "awaiting_admin_decision"
    COMPLETED = "completed"
    DISSOLVED = "dissolved"


CLOSED = frozenset({RotationStatus.COMPLETED, RotationStatus.DISSOLVED})


class CycleProgress(StrEnum):
    PLANNED = "planned"  # not started; its start timer is live unless the rotation holds it
    RUNNING = "running"  # its saga reported it started
    COMPLETED = "completed"  # paid out
    CANCELLED = "cancelled"  # the round was cancelled; the admin has to decide
    RETRIED = "retried"  # the round was cancelled and runs again as a new round
    DROPPED = "dropped"  # will never run (or, cancelled, will never run again)


# The cycle saga's statuses (``cycle.CycleStatus`` values) in which its pot is collected, unpaid.
FUNDED_STATUSES = frozenset({"funded", "paying_out", "payout_paused"})

# A cycle in these is done with, whatever the rotation does next.
SETTLED_PROGRESS = frozenset({CycleProgress.COMPLETED, CycleProgress.RETRIED, CycleProgress.DROPPED})


@dataclass(frozen=True)
class RotationCycle:
    plan: CyclePlan
    round: int = 1
    progress: CycleProgress = CycleProgress.PLANNED
    start_timer_id: str | None = None  # the live start timer; None once fired or held
    reported_status: str = "scheduled"  # the cycle saga's last announced status
    defaulting_member_ids: tuple[str, ...] = ()
    payout_held: bool = False  # payouts was asked to hold this cycle's pot
    hold_announced: bool = False  # ... and the funded cycle's hold was announced

    @property
    def cycle_id(self) -> UUID:
        return self.plan.cycle_id

    @property
    def recipient_id(self) -> str:
        return self.plan.recipient.member_id

    @property
    def payer_ids(self) -> tuple[str, ...]:
        return tuple(c.member.member_id for c in self.plan.contributions)


@dataclass(frozen=True)
class Receivable:
    """What a member owes after one dispute of a debit already paid out."""

    member_id: str
    dispute_id: str
    amount: int
    settled: bool = False  # paid by the member, or the dispute won
    written_off: bool = False
    won: bool = False  # the dispute was decided for the platform (the bank returned the money)

    @property
    def outstanding(self) -> bool:
        return not (self.settled or self.written_off)


@dataclass(frozen=True)
class RotationState:
    activation: GroupActivated
    status: RotationStatus
    cycles: tuple[RotationCycle, ...]  # in the order they run; retried rounds follow their round
    member_ids: tuple[str, ...]  # members still in the rotation
    removed_member_ids: tuple[str, ...] = ()
    receivables: tuple[Receivable, ...] = ()
    decisions: tuple[RoundDecision, ...] = ()  # the admin's round decisions so far
    generation: int = 0  # how many times held cycles were scheduled again (start timer ids)

    @classmethod
    def activated(cls, activation: GroupActivated, plans: tuple[CyclePlan, ...]) -> "RotationState":
        """The rotation as activation leaves it: the handler schedules every cycle's start then,
        under ``start_timer_id(cycle_id, 0)``."""
        return cls(
            activation=activation,
            status=RotationStatus.RUNNING,
            cycles=tuple(
                RotationCycle(plan, start_timer_id=start_timer_id(plan.cycle_id, 0)) for plan in plans
            ),
            member_ids=tuple(m.member_id for m in sorted(activation.members, key=lambda m: m.position)),
        )

    @property
    def group_id(self) -> UUID:
        return self.activation.group_id

    @property
    def members(self) -> tuple[ActivatedMember, ...]:
        by_id = {m.member_id: m for m in self.activation.members}
        return tuple(by_id[member_id] for member_id in self.member_ids)

    def cycle(self, cycle_id: UUID) -> RotationCycle | None:
        return next((c for c in self.cycles if c.cycle_id == cycle_id), None)

    def with_cycle(self, updated: RotationCycle) -> "RotationState":
        return replace(
            self, cycles=tuple(updated if c.cycle_id == updated.cycle_id else c for c in self.cycles)
        )

    def cycles_in(self, *progress: CycleProgress) -> tuple[RotationCycle, ...]:
        return tuple(c for c in self.cycles if c.progress in progress)

    def owed_by(self, member_id: str) -> int:
        return sum(r.amount for r in self.receivables if r.member_id == member_id and r.outstanding)

    def is_delinquent(self, member_id: str) -> bool:
        return self.owed_by(member_id) > 0

    def receiving_cycle(self, member_id: str) -> RotationCycle | None:
        """The member's cycle still to pay out, if any."""
        return next(
            (
                c
                for c in self.cycles
                if c.recipient_id == member_id
                and c.progress in (CycleProgress.PLANNED, CycleProgress.RUNNING)
            ),
            None,
        )
