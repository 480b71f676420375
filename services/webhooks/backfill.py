"""Backfill: ingest the events Stripe still holds that never arrived here as webhooks.

Each listed event goes through the same checks (except the signature: the listing itself was an
authenticated call) and the same idempotent ingest as a delivery, so running it twice, or while
deliveries arrive, stores and publishes every event once.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from services.webhooks.ingest import EventIngest, Outcome
from services.webhooks.normalize import normalize
from services.webhooks.stripe import StripeEventSource
from services.webhooks.verification import DeliveryRejectedError, Endpoint, parse_event

log = logging.getLogger(__name__)


@dataclass
class BackfillResult:
    listed: int = 0
    ingested: int = 0
    already_stored: int = 0
    rejected: int = 0


async def backfill(
    ingest: EventIngest,
    source: StripeEventSource,
    *,
    accounts: Sequence[str],
    created_since: int | None,
    expected_livemode: bool,
) -> BackfillResult:
    """The platform's events, then each connected account's in ``accounts``."""
    result = BackfillResult()
    for account in (None, *accounts):
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
    return result


def _reason(refused: Exception) -> str:
    if isinstance(refused, DeliveryRejectedError):
        return refused.reason.value
    return "not a valid Stripe event"
