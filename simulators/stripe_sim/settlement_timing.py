"""When money moves, in each timing mode: debits settle, funds become available, refunds land,
payouts travel. Fast mode counts seconds from the settings; realistic mode BECS business days."""

from datetime import datetime, timedelta

from simulators.stripe_sim.business_days import MELBOURNE_ZONE, becs_business_days_after, becs_settlement_at
from simulators.stripe_sim.settings import StripeSimSettings

# Chosen: BECS funds become available the business day after the debit succeeds.
FUNDS_AVAILABLE_BUSINESS_DAYS = 1
# Stripe: BECS refunds take 3 to 5 business days; the simulator takes the shortest.
REFUND_BUSINESS_DAYS = 3
PAYOUT_BUSINESS_DAYS = 1


def settles_at(settings: StripeSimSettings, submitted_at: datetime, *, delayed: bool) -> datetime:
    if settings.timing == "realistic":
        answer = becs_settlement_at(submitted_at)
    else:
        answer = submitted_at + timedelta(seconds=settings.fast_settle_seconds)
    if delayed:
        answer += timedelta(seconds=settings.delayed_extra_seconds)
    return answer


def expected_debit_date(settles: datetime) -> str:
    return settles.astimezone(MELBOURNE_ZONE).date().isoformat()


def funds_available_at(settings: StripeSimSettings, succeeded_at: datetime) -> datetime:
    if settings.timing == "realistic":
        return becs_business_days_after(succeeded_at, FUNDS_AVAILABLE_BUSINESS_DAYS)
    return succeeded_at + timedelta(seconds=settings.fast_funds_available_seconds)


def refund_lands_at(settings: StripeSimSettings, started_at: datetime) -> datetime:
    if settings.timing == "realistic":
        return becs_business_days_after(started_at, REFUND_BUSINESS_DAYS)
    return started_at + timedelta(seconds=settings.fast_refund_seconds)


def payout_in_transit_at(settings: StripeSimSettings, created_at: datetime) -> datetime:
    if settings.timing == "realistic":
        return created_at + timedelta(hours=1)
    return created_at + timedelta(seconds=settings.fast_payout_in_transit_seconds)


def payout_arrives_at(settings: StripeSimSettings, created_at: datetime) -> datetime:
    if settings.timing == "realistic":
        return becs_business_days_after(created_at, PAYOUT_BUSINESS_DAYS)
    return created_at + timedelta(seconds=settings.fast_payout_arrival_seconds)
