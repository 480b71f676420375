"""The recipient's bank payouts: Stripe paying a connected account's balance to its bank, on the
account's schedule. Followed from ``payout.*`` events on the Connect endpoint. Pure: no I/O.

A payout goes ``pending → in_transit → paid``, or ``failed`` / ``canceled``; Stripe may turn a paid
payout into a failed one days later, so ``failed`` ranks above ``paid``. A status never moves
backwards: a report of a lower rank, or an older one of the same rank, changes nothing.
A failed payout leaves the money in the recipient's Stripe balance: the recipient is told to fix
their bank details, and the failure stays open until a later payout of the account is paid.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class BankPayoutStatus(StrEnum):
    PENDING = "pending"
    IN_TRANSIT = "in_transit"
    PAID = "paid"
    FAILED = "failed"
    CANCELED = "canceled"


_RANK = {
    BankPayoutStatus.PENDING: 0,
    BankPayoutStatus.IN_TRANSIT: 1,
    BankPayoutStatus.PAID: 2,
    BankPayoutStatus.CANCELED: 3,
    BankPayoutStatus.FAILED: 3,
}


@dataclass(frozen=True)
class BankPayout:
    payout_id: str
    connected_account_id: str
    amount: int
    currency: str
    status: BankPayoutStatus
    failure_code: str | None
    failure_message: str | None
    arrival_date: datetime | None
    created: datetime  # when Stripe created the payout
    as_of: datetime  # the event that last moved it


def apply_report(held: BankPayout | None, report: BankPayout) -> BankPayout | None:
    """The payout after ``report``, or None when the report would move it backwards (ignored)."""
    if held is None:
        return report
    if _RANK[report.status] < _RANK[held.status]:
        return None
    if report.status == held.status and report.as_of <= held.as_of:
        return None
    return report


def newly_failed(before: BankPayout | None, after: BankPayout) -> bool:
    """The report turned the payout failed: tell the recipient (once)."""
    return after.status is BankPayoutStatus.FAILED and (before is None or before.status is not after.status)


def status_of(raw: str | None) -> BankPayoutStatus | None:
    try:
        return BankPayoutStatus(raw) if raw else None
    except ValueError:
        return None
