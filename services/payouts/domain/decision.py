"""Whether a payout may be transferred now, or waits, and why: the holds first (they say until
when), then the recipient's account. Pure: no I/O.

- A recipient who owes the group after a dispute (collections' ``hold_cycle``) is held until
  collections releases the cycle: no date.
- A recipient's first pot waits ``first_payout_hold_business_days`` BECS business days after their
  account became ready (0 by default: no wait).
- A recipient whose account cannot receive (restricted, ``transfers`` capability inactive) is
  paused until the account is ready again; a person may force a try, and Stripe decides.
"""

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Protocol
from zoneinfo import ZoneInfo

from services.payouts.domain.recipient import AccountView

# Business days are counted on the recipient's side of the world, where the BECS calendar is.
SYDNEY = ZoneInfo("Australia/Sydney")

OWES_THE_GROUP = "recipient_owes_the_group"
FIRST_PAYOUT_HOLD = "first_payout_hold"


class BusinessDays(Protocol):
    def add_business_days(self, day: date, count: int) -> date: ...


@dataclass(frozen=True)
class Transfer:
    """Make the transfers now."""


@dataclass(frozen=True)
class Hold:
    reason: str
    until: datetime | None  # None: until someone releases it


@dataclass(frozen=True)
class Pause:
    reason: str


Decision = Transfer | Hold | Pause


@dataclass(frozen=True)
class Circumstances:
    """What the decision looks at, read by the service layer."""

    owes_the_group: bool
    account: AccountView | None  # None: payouts never heard of the account (onboarding said it was ready)
    first_pot: bool  # the recipient has never been paid a pot
    ready_since_fallback: datetime  # when the account was ready at the latest, if the view has no date
    first_payout_hold_business_days: int
    forced: bool = False  # a person asked: try even if the view says the account cannot receive


def decide(circumstances: Circumstances, now: datetime, calendar: BusinessDays) -> Decision:
    if circumstances.owes_the_group:
        return Hold(OWES_THE_GROUP, None)
    account = circumstances.account
    if circumstances.first_pot and circumstances.first_payout_hold_business_days > 0:
        ready_since = (account.ready_since if account else None) or circumstances.ready_since_fallback
        until = first_payout_hold_ends(ready_since, circumstances.first_payout_hold_business_days, calendar)
        if now < until:
            return Hold(FIRST_PAYOUT_HOLD, until)
    if account is not None and not account.can_receive and not circumstances.forced:
        return Pause(account.reason or "payout_account_not_ready")
    return Transfer()


def first_payout_hold_ends(ready_since: datetime, business_days: int, calendar: BusinessDays) -> datetime:
    """``business_days`` BECS business days after the day the account became ready, at the same
    time of day (Sydney time)."""
    local = ready_since.astimezone(SYDNEY)
    day = calendar.add_business_days(local.date(), 0)
    # A ready day that is not a business day counts from the next business day's start.
    start = local.timetz() if day == local.date() else time(0, tzinfo=SYDNEY)
    end_day = calendar.add_business_days(day, business_days)
    return datetime.combine(end_day, start.replace(tzinfo=None), tzinfo=SYDNEY)
