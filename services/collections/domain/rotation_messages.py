"""What the rotation saga reacts to: its cycles' reports, members' debts, and the admin's decisions.

Handlers translate into these: a cycle saga's ``PublishCycleStatus`` becomes ``CycleReported``; a
dispute the cycle saga booked as a receivable becomes ``ReceivableOpened``; the admin API's
requests become the decisions below (they carry who decides; the saga checks it is the admin).
"""

from dataclasses import dataclass, fields
from datetime import date, datetime
from uuid import UUID


@dataclass(frozen=True)
class CycleReported:
    """A cycle saga announced a status (``collections.evt.cycle_<status>``)."""

    occurred_at: datetime
    cycle_id: UUID
    status: str
    defaulting_member_ids: tuple[str, ...] = ()
    delinquent_member_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReceivableOpened:
    """A debit already paid out was disputed: the member owes ``amount`` (one per dispute)."""

    occurred_at: datetime
    member_id: str
    dispute_id: str
    amount: int


@dataclass(frozen=True)
class ReceivableSettled:
    """The member's debt of ``dispute_id`` was collected (or the dispute was won): it is cleared.

    Whoever collects the money books it; the rotation only stops counting the member delinquent.
    """

    occurred_at: datetime
    member_id: str
    dispute_id: str
    won: bool = False  # the bank decided the dispute for the platform: its money came back


@dataclass(frozen=True)
class AdminDecision:
    """A decision of the group's admin; ``decided_by`` is the member who asks for it."""

    occurred_at: datetime
    decided_by: str

    def same_as(self, other: "AdminDecision") -> bool:
        """The same decision asked again (a retried request): every field but the time it was made."""
        return type(self) is type(other) and all(
            getattr(self, f.name) == getattr(other, f.name) for f in fields(self) if f.name != "occurred_at"
        )


@dataclass(frozen=True)
class RetryRound(AdminDecision):
    """Run cancelled cycle ``cycle_id`` again for the same recipient, from ``start_on`` (a BECS
    business day on or after it) or, without one, from the next business day."""

    cycle_id: UUID
    start_on: date | None = None


@dataclass(frozen=True)
class RemoveMembers(AdminDecision):
    """Take ``member_ids`` (defaulting members of cancelled cycle ``cycle_id``) out of the rotation
    and go on without them from ``start_on`` (as for ``RetryRound``)."""

    cycle_id: UUID
    member_ids: tuple[str, ...]
    start_on: date | None = None


@dataclass(frozen=True)
class DissolveGroup(AdminDecision):
    """End the rotation after cancelled cycle ``cycle_id``: no cycle runs any more."""

    cycle_id: UUID


@dataclass(frozen=True)
class WriteOffReceivable(AdminDecision):
    """Give up on every debt ``member_id`` still owes after disputes."""

    member_id: str


RoundDecision = RetryRound | RemoveMembers | DissolveGroup
RotationMessage = CycleReported | ReceivableOpened | ReceivableSettled | RoundDecision | WriteOffReceivable
