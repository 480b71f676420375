"""A group's terms: what it collects, how often, from how many, from when, under which policy.

Pure: no I/O. Every problem of a set of terms is named at once, by field, so a client can show
them all; the limits come from Stripe and BECS (minimum charge, per-debit limit, settlement time).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.onboarding.domain.errors import DomainError
from services.onboarding.domain.payout_order import PayoutOrderMethod

CURRENCY: Final = "aud"
# Stripe's minimum charge in AUD, and its BECS limit for new accounts (AUD 10,000 per debit).
MIN_CONTRIBUTION: Final = 50
MAX_CONTRIBUTION: Final = 1_000_000
MIN_SIZE: Final = 2
MAX_SIZE: Final = 50
MAX_NAME_LENGTH: Final = 80
MAX_DAYS_AHEAD: Final = 366
MAX_ATTEMPTS: Final = 5
MAX_RETRY_SPACING: Final = 10
MAX_FEE_BPS: Final = 1_000
# A BECS debit's outcome is known about two business days after it is submitted.
BECS_OUTCOME_BUSINESS_DAYS: Final = 2


class Cadence(StrEnum):
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    MONTHLY = "monthly"

    @property
    def business_days(self) -> int:
        """Business days in one period: a cycle's collection must end before the next starts."""
        return {Cadence.WEEKLY: 5, Cadence.FORTNIGHTLY: 10, Cadence.MONTHLY: 20}[self]


@dataclass(frozen=True)
class TermsProblem:
    field: str
    message: str


class InvalidGroupError(DomainError):
    kind = "invalid_group"

    def __init__(self, problems: Sequence[TermsProblem]) -> None:
        super().__init__("; ".join(f"{problem.field}: {problem.message}" for problem in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Policy:
    attempt_limit: int
    retry_spacing_business_days: int
    collection_window_business_days: int
    platform_fee_bps: int = 0


def default_policy(cadence: Cadence) -> Policy:
    """Three attempts (two in a week, all that fit), a window inside the period, no platform fee."""
    return {
        Cadence.WEEKLY: Policy(2, 1, 5),
        Cadence.FORTNIGHTLY: Policy(3, 1, 10),
        Cadence.MONTHLY: Policy(3, 2, 15),
    }[cadence]


@dataclass(frozen=True)
class GroupTerms:
    name: str
    contribution_amount: int
    currency: str
    cadence: Cadence
    size: int
    start_date: date
    timezone: str
    policy: Policy
    payout_order_method: PayoutOrderMethod


def check_terms(terms: GroupTerms, now: datetime) -> None:
    """Every problem at once, each naming its field, or nothing when the terms are valid."""
    problems = [*_amount_and_size(terms), *_dates(terms.start_date, terms.timezone, now)]
    problems += _policy(terms.policy, terms.cadence)
    if not terms.name.strip():
        problems.append(TermsProblem("name", "must not be blank"))
    elif len(terms.name) > MAX_NAME_LENGTH:
        problems.append(TermsProblem("name", f"at most {MAX_NAME_LENGTH} characters"))
    if problems:
        raise InvalidGroupError(problems)


def _amount_and_size(terms: GroupTerms) -> list[TermsProblem]:
    problems = []
    if terms.currency != CURRENCY:
        problems.append(TermsProblem("currency", "BECS Direct Debit collects aud only"))
    if not MIN_CONTRIBUTION <= terms.contribution_amount <= MAX_CONTRIBUTION:
        problems.append(
            TermsProblem(
                "contribution_amount",
                f"must be {MIN_CONTRIBUTION} to {MAX_CONTRIBUTION} cents: Stripe's minimum charge, "
                "and BECS's limit of AUD 10,000 per debit",
            )
        )
    if not MIN_SIZE <= terms.size <= MAX_SIZE:
        problems.append(TermsProblem("size", f"a group has {MIN_SIZE} to {MAX_SIZE} members"))
    return problems


def _dates(start_date: date, timezone: str, now: datetime) -> list[TermsProblem]:
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return [TermsProblem("timezone", f"{timezone!r} is not an IANA time zone such as Australia/Sydney")]
    today = now.astimezone(zone).date()
    if start_date <= today:
        return [TermsProblem("start_date", f"must be after today ({today.isoformat()} in {timezone})")]
    if start_date > today + timedelta(days=MAX_DAYS_AHEAD):
        return [TermsProblem("start_date", f"must be within {MAX_DAYS_AHEAD} days")]
    return []


def _policy(policy: Policy, cadence: Cadence) -> list[TermsProblem]:
    problems = []
    if not 1 <= policy.attempt_limit <= MAX_ATTEMPTS:
        problems.append(TermsProblem("policy.attempt_limit", f"must be 1 to {MAX_ATTEMPTS}"))
    if not 1 <= policy.retry_spacing_business_days <= MAX_RETRY_SPACING:
        problems.append(
            TermsProblem("policy.retry_spacing_business_days", f"must be 1 to {MAX_RETRY_SPACING}")
        )
    if not 0 <= policy.platform_fee_bps <= MAX_FEE_BPS:
        problems.append(TermsProblem("policy.platform_fee_bps", f"must be 0 to {MAX_FEE_BPS} (10%)"))
    window = policy.collection_window_business_days
    if not 1 <= window <= cadence.business_days:
        problems.append(
            TermsProblem(
                "policy.collection_window_business_days",
                f"must be 1 to {cadence.business_days}: a {cadence.value} cycle ends before the next begins",
            )
        )
    elif not problems and window < needed_window(policy):
        problems.append(
            TermsProblem(
                "policy.collection_window_business_days",
                f"{policy.attempt_limit} attempts {policy.retry_spacing_business_days} business day(s) apart "
                f"need {needed_window(policy)} business days, each outcome taking "
                f"{BECS_OUTCOME_BUSINESS_DAYS}",
            )
        )
    return problems


def needed_window(policy: Policy) -> int:
    """Business days for every attempt's outcome to be known, retries spaced as the policy says."""
    attempts = policy.attempt_limit
    return BECS_OUTCOME_BUSINESS_DAYS * attempts + policy.retry_spacing_business_days * (attempts - 1)
