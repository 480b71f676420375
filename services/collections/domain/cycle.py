"""A cycle's saga state: its status, its contributions, its disputes and its payout."""

from dataclasses import dataclass, replace
from enum import StrEnum
from uuid import UUID

from services.collections.domain.commands import PayoutCharge
from services.collections.domain.contribution import Contribution, ContributionStatus, PaymentMethodRef
from services.collections.domain.rotation import CyclePlan


class CycleStatus(StrEnum):
    SCHEDULED = "scheduled"
    COLLECTING = "collecting"
    FUNDED = "funded"
    PAYING_OUT = "paying_out"
    PAYOUT_PAUSED = "payout_paused"
    COMPLETED = "completed"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"


class DisputeBooking(StrEnum):
    REVERSED_FROM_POT = "reversed_from_pot"
    RECEIVABLE = "receivable"
    REFUND_OWED_SETTLED = "refund_owed_settled"


@dataclass(frozen=True)
class DisputeRecord:
    dispute_id: str
    contribution_id: UUID
    member_id: str
    attempt: int
    amount: int
    booking: DisputeBooking
    closed_won: bool | None = None


@dataclass(frozen=True)
class PayoutRecord:
    charges: tuple[PayoutCharge, ...]

    @property
    def transfer_total(self) -> int:
        return sum(charge.transfer_amount for charge in self.charges)

    @property
    def fee_total(self) -> int:
        return sum(charge.platform_fee for charge in self.charges)


@dataclass(frozen=True)
class CycleState:
    plan: CyclePlan
    status: CycleStatus
    contributions: tuple[Contribution, ...]
    disputes: tuple[DisputeRecord, ...] = ()
    payout: PayoutRecord | None = None
    payout_paused_reason: str | None = None

    @classmethod
    def scheduled(cls, plan: CyclePlan) -> "CycleState":
        return cls(
            plan=plan,
            status=CycleStatus.SCHEDULED,
            contributions=tuple(
                Contribution(
                    contribution_id=planned.contribution_id,
                    member_id=planned.member.member_id,
                    amount=plan.contribution_amount,
                    payment_method=PaymentMethodRef(
                        customer_id=planned.member.customer_id,
                        payment_method_id=planned.member.payment_method_id,
                        mandate_id=planned.member.mandate_id,
                        mandate_active=True,
                    ),
                )
                for planned in plan.contributions
            ),
        )

    @property
    def waiting_on(self) -> str | None:
        """Who the cycle waits for, when it waits on a person rather than on Stripe or a timer."""
        if self.status is CycleStatus.PAYOUT_PAUSED:
            return "recipient"
        if any(c.status is ContributionStatus.AWAITING_MANDATE for c in self.contributions):
            return "members"
        return None

    @property
    def defaulting_member_ids(self) -> tuple[str, ...]:
        """Members whose contribution can no longer be collected this cycle."""
        return tuple(c.member_id for c in self.contributions if c.status is ContributionStatus.FAILED_FINAL)

    @property
    def delinquent_member_ids(self) -> tuple[str, ...]:
        """Members who owe money after a dispute of a debit already paid out or refunded."""
        owing = {
            dispute.member_id
            for dispute in self.disputes
            if dispute.booking is DisputeBooking.RECEIVABLE and dispute.closed_won is not True
        }
        return tuple(sorted(owing))

    def contribution(self, contribution_id: UUID) -> Contribution | None:
        return next((c for c in self.contributions if c.contribution_id == contribution_id), None)

    def contribution_of(self, member_id: str) -> Contribution | None:
        return next((c for c in self.contributions if c.member_id == member_id), None)

    def dispute(self, dispute_id: str) -> DisputeRecord | None:
        return next((d for d in self.disputes if d.dispute_id == dispute_id), None)

    def dispute_of_attempt(self, contribution_id: UUID, attempt: int) -> DisputeRecord | None:
        return next(
            (d for d in self.disputes if d.contribution_id == contribution_id and d.attempt == attempt), None
        )

    def with_contribution(self, updated: Contribution) -> "CycleState":
        return replace(
            self,
            contributions=tuple(
                updated if c.contribution_id == updated.contribution_id else c for c in self.contributions
            ),
        )

    def with_dispute(self, updated: DisputeRecord) -> "CycleState":
        if self.dispute(updated.dispute_id) is None:
            return replace(self, disputes=(*self.disputes, updated))
        return replace(
            self, disputes=tuple(updated if d.dispute_id == updated.dispute_id else d for d in self.disputes)
        )
