"""When an unfinished cycle should have moved on from its status, and what it waits for: what the
operator's stuck-cycle view reports. Pure: the caller gives the state, when it entered its status,
the business-day calendar and "now"."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from services.collections.domain.business_days import BusinessCalendar
from services.collections.domain.contribution import SETTLED_FOR_CANCELLATION, ContributionStatus
from services.collections.domain.cycle import CycleState, CycleStatus

# Stripe settles a BECS refund in 3 to 5 business days; a cancelling cycle is late after the 5th.
REFUND_SETTLEMENT_BUSINESS_DAYS: Final = 5


@dataclass(frozen=True)
class Overdue:
    """The cycle should have left its status by ``expected_by``; ``waiting_for`` names the members
    whose contribution holds it, when members do."""

    expected_by: datetime
    reason: str
    waiting_for: tuple[str, ...] = ()


# Statuses a cycle should leave as soon as it enters them (or that wait on a person): due at once.
_DUE_ON_ENTRY: Final = {
    CycleStatus.FUNDED: "funded, but payouts was not asked to pay the pot",
    CycleStatus.PAYING_OUT: "paying out: payouts has not reported the pot paid",
    CycleStatus.PAYOUT_PAUSED: "payout paused: waiting on the recipient or the admin",
}


def overdue(state: CycleState, status_since: datetime, calendar: BusinessCalendar) -> Overdue | None:
    """By when the cycle should have moved on from its status, and why it may not have; None for
    a finished cycle."""
    plan = state.plan
    if state.status is CycleStatus.SCHEDULED:
        return Overdue(plan.start_at, "not started: its start timer has not fired or was not handled")
    if state.status is CycleStatus.COLLECTING:
        unpaid = tuple(
            c.member_id for c in state.contributions if c.status is not ContributionStatus.SUCCEEDED
        )
        return Overdue(
            plan.deadline_at, "collecting past its deadline: the deadline timer has not closed it", unpaid
        )
    if state.status is CycleStatus.CANCELLING:
        zone = ZoneInfo(plan.timezone)
        last_day = calendar.add_business_days(
            status_since.astimezone(zone).date(), REFUND_SETTLEMENT_BUSINESS_DAYS
        )
        unsettled = tuple(
            c.member_id for c in state.contributions if c.status not in SETTLED_FOR_CANCELLATION
        )
        return Overdue(
            datetime.combine(last_day + timedelta(days=1), time(0, 0), zone),
            f"cancelling: refunds unsettled {REFUND_SETTLEMENT_BUSINESS_DAYS} business days on",
            unsettled,
        )
    reason = _DUE_ON_ENTRY.get(state.status)
    if reason is None:
        return None  # completed or cancelled: nothing more is expected of it
    if state.status is CycleStatus.PAYOUT_PAUSED and state.payout_paused_reason:
        reason = f"{reason} ({state.payout_paused_reason})"
    return Overdue(status_since, reason)
