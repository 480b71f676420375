"""What the rotation saga asks for: cycle sagas to plan or drop, start timers, payout holds,
notices to members, and the rotation's facts (``collections.evt.rotation_*``)."""

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from services.collections.domain.rotation import CyclePlan


@dataclass(frozen=True)
class PlanCycle:
    """Store cycle saga ``plan.cycle_id`` as scheduled with this plan: a new round, or a cycle not
    started yet with new dates or fewer members (replace its plan only while it is scheduled)."""

    plan: CyclePlan
    round: int


@dataclass(frozen=True)
class DropCycle:
    """A scheduled cycle that will never run: mark it so; it never started, so nothing was debited."""

    group_id: UUID
    cycle_id: UUID
    cycle_number: int
    reason: str


@dataclass(frozen=True)
class StopCycle:
    """The group was dissolved while this cycle collects: close its collection now (deliver
    ``DeadlineReached``), so the cycle saga refunds what it collected and debits no more."""

    group_id: UUID
    cycle_id: UUID


@dataclass(frozen=True)
class ScheduleCycleStart:
    """``scheduler.cmd.schedule``: deliver ``collections.cmd.start_cycle`` for the cycle at ``at``."""

    timer_id: str
    group_id: UUID
    cycle_id: UUID
    cycle_number: int
    at: datetime


@dataclass(frozen=True)
class CancelCycleStart:
    """``scheduler.cmd.cancel``: the scheduler cancels for good, so a later schedule uses a new id."""

    timer_id: str


@dataclass(frozen=True)
class HoldPayout:
    """Payouts must not transfer this cycle's pot (now or when ``pay_cycle`` comes) until released:
    its recipient owes the group."""

    group_id: UUID
    cycle_id: UUID
    recipient_member_id: str


@dataclass(frozen=True)
class ReleasePayout:
    group_id: UUID
    cycle_id: UUID
    recipient_member_id: str


class RotationNoticeKind(StrEnum):
    ROUND_CANCELLED = "rotation_round_cancelled"  # to every member; the admin is asked to decide
    ROUND_RESCHEDULED = "rotation_round_rescheduled"  # the rotation goes on; ``starts_on`` is next
    MEMBER_REMOVED = "rotation_member_removed"  # to the member who was removed
    GROUP_DISSOLVED = "rotation_group_dissolved"
    PAYOUT_HELD = "rotation_payout_held_for_debt"  # to the recipient: pay what you owe first
    PAYOUT_RELEASED = "rotation_payout_released"


@dataclass(frozen=True)
class NotifyRotationMember:
    member_id: str
    kind: RotationNoticeKind
    group_id: UUID
    cycle_id: UUID | None = None
    cycle_number: int | None = None
    starts_on: date | None = None
    amount_owed: int | None = None
    defaulted: bool = False


@dataclass(frozen=True)
class MemberBalance:
    """What a member paid into pots that were paid out, and what they received, before fees."""

    member_id: str
    paid_in: int
    received: int

    @property
    def owes_the_group(self) -> int:
        """Positive: received more than paid in; negative: the group owes them."""
        return self.received - self.paid_in


@dataclass(frozen=True)
class RotationAwaitingAdminDecision:
    """``collections.evt.rotation_awaiting_admin_decision``."""

    group_id: UUID
    cycle_id: UUID
    cycle_number: int
    defaulting_member_ids: tuple[str, ...]


@dataclass(frozen=True)
class RoundRetried:
    """``collections.evt.rotation_round_retried``: cycle ``cycle_number`` runs again as ``cycle_id``."""

    group_id: UUID
    cancelled_cycle_id: UUID
    cycle_id: UUID
    cycle_number: int
    round: int


@dataclass(frozen=True)
class MembersRemoved:
    """``collections.evt.rotation_members_removed``; the cycles that will not run, and where each
    removed member stands (nothing is debited or paid to settle it: see the rotation saga)."""

    group_id: UUID
    member_ids: tuple[str, ...]
    dropped_cycle_numbers: tuple[int, ...]
    balances: tuple[MemberBalance, ...]


@dataclass(frozen=True)
class RotationResumed:
    """``collections.evt.rotation_resumed``: the held cycles run again, the first on ``starts_on``."""

    group_id: UUID
    starts_on: date
    cycle_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class RotationDissolved:
    """``collections.evt.rotation_dissolved``: where every member stands when the group ends."""

    group_id: UUID
    dropped_cycle_numbers: tuple[int, ...]
    balances: tuple[MemberBalance, ...]


@dataclass(frozen=True)
class RotationCompleted:
    """``collections.evt.rotation_completed``: every cycle paid; who received each."""

    group_id: UUID
    recipients: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class PayoutHeldForDelinquency:
    """``collections.evt.payout_held_for_delinquency``: the cycle is funded, its recipient owes."""

    group_id: UUID
    cycle_id: UUID
    cycle_number: int
    member_id: str
    amount_owed: int


RotationFact = (
    RotationAwaitingAdminDecision
    | RoundRetried
    | MembersRemoved
    | RotationResumed
    | RotationDissolved
    | RotationCompleted
    | PayoutHeldForDelinquency
)


@dataclass(frozen=True)
class DisputeWonAfterDebtClosed:
    """The bank decided ``dispute_id`` for the platform (its money came back) after the member's
    debt of it was closed: paid by a debit, or written off. What the returned money is depends on
    which (``debt_refunds.won_after_debt_closed``): paid, the member paid twice and that debit is
    refunded; written off and never paid, the write-off is recovered."""

    group_id: UUID
    member_id: str
    dispute_id: str
    amount: int
    currency: str
    written_off: bool


RotationCommand = (
    PlanCycle
    | DropCycle
    | StopCycle
    | ScheduleCycleStart
    | CancelCycleStart
    | HoldPayout
    | ReleasePayout
    | NotifyRotationMember
    | RotationFact
    | DisputeWonAfterDebtClosed
)
