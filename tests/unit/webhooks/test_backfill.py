"""Backfill goes past a connected account Stripe refuses to list, and stops at any other refusal."""

import json
import uuid
from collections.abc import AsyncIterator

import pytest
import stripe

from contracts.stripe_events import StripeEventReceived
from services.webhooks.backfill import SkippedAccount, backfill
from services.webhooks.ingest import Outcome
from services.webhooks.verification import VerifiedEvent

ACCESS_REVOKED = {
    "error": {
        "type": "invalid_request_error",
        "code": "account_invalid",
        "message": "The provided key does not have access to account 'acct_gone' (or that account does "
        "not exist). Application access may have been revoked.",
    }
}


def _event(account: str | None) -> bytes:
    body: dict[str, object] = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "created": 1_790_000_000,
        "livemode": False,
        "type": "customer.created",
        "data": {"object": {"id": "cus_1", "object": "customer"}},
    }
    if account is not None:
        body["account"] = account
    return json.dumps(body).encode()


class ListedEvents:
    """Two events per account (None: the platform); one in ``refusals`` raises after the first."""

    def __init__(self, refusals: dict[str | None, stripe.StripeError]) -> None:
        self._refusals = refusals
        self.asked: list[str | None] = []

    async def events(self, *, created_since: int | None, account: str | None) -> AsyncIterator[bytes]:
        self.asked.append(account)
        yield _event(account)
        if account in self._refusals:
            raise self._refusals[account]
        yield _event(account)


class Recorded:
    def __init__(self) -> None:
        self.accounts: list[str | None] = []

    async def ingest(self, event: VerifiedEvent, message: StripeEventReceived, source: str) -> Outcome:
        self.accounts.append(event.account)
        return Outcome.accepted


async def test_an_account_stripe_refuses_is_skipped_with_its_reason_and_the_others_are_backfilled() -> None:
    revoked = stripe.PermissionError(
        ACCESS_REVOKED["error"]["message"], json_body=ACCESS_REVOKED, http_status=403
    )
    source = ListedEvents({"acct_gone": revoked})
    ingest = Recorded()

    result = await backfill(
        ingest, source, accounts=["acct_gone", "acct_kept"], created_since=None, expected_livemode=False
    )

    assert source.asked == [None, "acct_gone", "acct_kept"]
    # What the refused account listed before its refusal (a later page failing) is kept.
    assert ingest.accounts == [None, None, "acct_gone", "acct_kept", "acct_kept"]
    assert (result.listed, result.ingested, result.rejected) == (5, 5, 0)
    assert result.skipped_accounts == [
        SkippedAccount(
            "acct_gone",
            "403 account_invalid: The provided key does not have access to account 'acct_gone' (or that "
            "account does not exist). Application access may have been revoked.",
        )
    ]


@pytest.mark.parametrize(
    "refusal",
    [
        stripe.RateLimitError("Request rate limit exceeded.", http_status=429),
        stripe.APIError("An unknown error occurred", http_status=500),
        stripe.APIError("Service unavailable", http_status=503),
    ],
    ids=["rate limited", "server error", "unavailable"],
)
async def test_a_refusal_that_is_not_about_the_account_stops_the_run(refusal: stripe.StripeError) -> None:
    source = ListedEvents({"acct_1": refusal})
    with pytest.raises(type(refusal)):
        await backfill(
            Recorded(), source, accounts=["acct_1", "acct_2"], created_since=None, expected_livemode=False
        )
    assert source.asked == [None, "acct_1"]


async def test_the_platforms_own_listing_refused_stops_the_run() -> None:
    source = ListedEvents({None: stripe.AuthenticationError("Invalid API Key provided", http_status=401)})
    with pytest.raises(stripe.AuthenticationError):
        await backfill(Recorded(), source, accounts=["acct_1"], created_since=None, expected_livemode=False)
    assert source.asked == [None]
