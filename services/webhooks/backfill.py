"""Backfill: ingest the events Stripe still holds that never arrived here as webhooks.

Each listed event goes through the same checks (except the signature: the listing itself was an
authenticated call) and the same idempotent ingest as a delivery, so running it twice, or while
deliveries arrive, stores and publishes every event once.

A connected account Stripe refuses to list (deleted, or the platform's access revoked) is skipped
and reported, and the run goes on with the others: such an account stays among the "known" ones
forever (its stored events name it), so stopping at it would stop every later backfill too.
"""

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import stripe
from pydantic import ValidationError

from contracts.stripe_events import StripeEventReceived
from services.webhooks.ingest import Outcome
from services.webhooks.normalize import normalize
from services.webhooks.verification import DeliveryRejectedError, Endpoint, VerifiedEvent, parse_event

log = logging.getLogger(__name__)

# What Stripe answers when the key cannot act on one connected account (401/403 account_invalid,
# 400/404 "no such account"). The platform's own listing, made first with the same key, raises
# these too: there they stop the run, since they say nothing about a single account.
ACCOUNT_REFUSALS: tuple[type[stripe.StripeError], ...] = (
    stripe.AuthenticationError,
    stripe.PermissionError,
    stripe.InvalidRequestError,
)


class EventSource(Protocol):
    """Where listed events come from: ``services.webhooks.stripe.StripeEventSource``."""

    def events(self, *, created_since: int | None, account: str | None) -> AsyncIterator[bytes]: ...


class Ingest(Protocol):
    """Where they go: ``services.webhooks.ingest.EventIngest``."""

    async def ingest(self, event: VerifiedEvent, message: StripeEventReceived, source: str) -> Outcome: ...


@dataclass(frozen=True)
class SkippedAccount:
    account: str
    reason: str


@dataclass
class BackfillResult:
    listed: int = 0
    ingested: int = 0
    already_stored: int = 0
    rejected: int = 0
    skipped_accounts: list[SkippedAccount] = field(default_factory=list)


async def backfill(
    ingest: Ingest,
    source: EventSource,
    *,
    accounts: Sequence[str],
    created_since: int | None,
    expected_livemode: bool,
) -> BackfillResult:
    """The platform's events, then each connected account's in ``accounts``."""
    result = BackfillResult()
    await _ingest_listed(ingest, source, None, created_since, result, expected_livemode=expected_livemode)
    for account in accounts:
        try:
            await _ingest_listed(
                ingest, source, account, created_since, result, expected_livemode=expected_livemode
            )
        except ACCOUNT_REFUSALS as refused:
            # Whatever was listed before the refusal (a later page) stays ingested and counted.
            skipped = SkippedAccount(account, _refusal(refused))
            log.warning("backfill skipped account %s: %s", account, skipped.reason)
            result.skipped_accounts.append(skipped)
    return result


async def _ingest_listed(
    ingest: Ingest,
    source: EventSource,
    account: str | None,
    created_since: int | None,
    result: BackfillResult,
    *,
    expected_livemode: bool,
) -> None:
    """The events Stripe lists for ``account`` (None: the platform's), counted into ``result``."""
    endpoint = Endpoint.connect if account else Endpoint.platform
    async for body in source.events(created_since=created_since, account=account):
        result.listed += 1
        try:
            event = parse_event(body, endpoint=endpoint, expected_livemode=expected_livemode)
            message = normalize(event.body)
        except (DeliveryRejectedError, ValidationError) as refused:
            result.rejected += 1
            log.warning("backfill skipped a listed event: %s", _reason(refused))
            continue
        outcome = await ingest.ingest(event, message, "backfill")
        if outcome is Outcome.duplicate:
            result.already_stored += 1
        else:
            result.ingested += 1


def _refusal(error: stripe.StripeError) -> str:
    """Stripe's own words, on one line: status, code and message (no key: Stripe redacts it)."""
    # The SDK keeps the code on the error only for some statuses (not 401/403); the body has it.
    code = error.code or (error.error.code if error.error is not None else None)
    message = " ".join(str(error.user_message or error).split())
    return f"{error.http_status}{f' {code}' if code else ''}: {message}"[:500]


def _reason(refused: Exception) -> str:
    if isinstance(refused, DeliveryRejectedError):
        return refused.reason.value
    return "not a valid Stripe event"
