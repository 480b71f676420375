"""A cycle's payout: the pot of one funded cycle, one transfer per collected charge, and where it
stands (held, paused, transferring, paid). Pure: no I/O.

A transfer's idempotency key is ``payout-<cycle>-<charge>``, fixed before Stripe is first asked.
A refusal by Stripe (a 4xx) means nothing was made, so the next try of that transfer after a
refusal gets a key of its own (``payout-<cycle>-<charge>-<attempt>``): Stripe replays a key's
first answer, and a refusal replayed would keep the pot paused for ever. An unanswered call is
always repeated with the same key, so a transfer is never made twice.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID


class PayoutStatus(StrEnum):
    HELD = "held"  # a hold applies: the recipient owes the group, or their first-payout wait
    PAUSED = "paused"  # the recipient's account cannot receive, or Stripe refused a transfer
    TRANSFERRING = "transferring"  # the transfers not made yet are being made
    PAID = "paid"  # every transfer exists


@dataclass(frozen=True)
class PlannedTransfer:
    charge_id: str
    contribution_id: UUID
    payment_intent_id: str
    payer_member_id: str
    amount: int
    attempt: int = 1
    transfer_id: str | None = None
    created_at_stripe: datetime | None = None  # the transfer's ``created``, on Stripe's clock
    refused_code: str | None = None

    @property
    def made(self) -> bool:
        return self.transfer_id is not None

    def key(self, cycle_id: UUID) -> str:
        base = f"payout-{cycle_id}-{self.charge_id}"
        return base if self.attempt == 1 else f"{base}-{self.attempt}"

    def refused(self, code: str) -> "PlannedTransfer":
        """Stripe refused this try (nothing was made): the next try is a new attempt."""
        return replace(self, attempt=self.attempt + 1, refused_code=code)


@dataclass(frozen=True)
class Payout:
    cycle_id: UUID
    group_id: UUID
    cycle_number: int
    recipient_member_id: str
    connected_account_id: str
    currency: str
    transfer_group: str
    status: PayoutStatus
    round: int  # bumped by every resume: a make_transfers of an earlier round is stale
    reason: str | None  # why held or paused
    held_until: datetime | None  # when a dated hold ends (first-payout hold)
    transfers: tuple[PlannedTransfer, ...]

    @property
    def transfer_total(self) -> int:
        return sum(t.amount for t in self.transfers)

    @property
    def transfers_to_make(self) -> tuple[PlannedTransfer, ...]:
        return tuple(t for t in self.transfers if not t.made)

    @property
    def every_transfer_made(self) -> bool:
        return all(t.made for t in self.transfers)

    @property
    def waiting(self) -> bool:
        return self.status in (PayoutStatus.HELD, PayoutStatus.PAUSED)
