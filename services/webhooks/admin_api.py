"""HTTP edge for operators: replay stored events, backfill missed ones (bearer token)."""

import logging
from datetime import datetime
from typing import Annotated

import stripe
from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.stripe_events import STRIPE_EVENT_ID_PATTERN, STRIPE_EVENT_TYPE_PATTERN
from services.runtime.errors import ApiError
from services.runtime.operator_auth import operator_token_required
from services.runtime.request_budget import RequestBudgetExhaustedError, RequestBudgetUnavailableError
from services.runtime.stripe_client import StripeBusyError
from services.webhooks import db
from services.webhooks.api import GatewayDep, get_gateway
from services.webhooks.backfill import backfill
from services.webhooks.ingest import IngestUnavailableError
from services.webhooks.stripe import StripeEventSource

log = logging.getLogger(__name__)


_require_operator = operator_token_required(lambda request: get_gateway(request).settings.operator_token)

router = APIRouter(prefix="/admin", tags=["operations"], dependencies=[Depends(_require_operator)])


def _stripe_events(request: Request) -> StripeEventSource:
    """Built once by ``create_app`` (None without an API key), inside the shared Stripe budget."""
    events: StripeEventSource | None = request.app.state.stripe_events
    if events is None:
        raise ApiError(503, "not_configured", "Stripe API key not configured")
    return events


StripeEventsDep = Annotated[StripeEventSource, Depends(_stripe_events)]


class ReplayRequest(BaseModel):
    """Which stored events to publish again; every given criterion must hold, at least one given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_ids: list[Annotated[str, Field(pattern=STRIPE_EVENT_ID_PATTERN)]] = Field(
        default_factory=list, max_length=1_000, description="These events (evt_…)."
    )
    event_type: str | None = Field(
        default=None, pattern=STRIPE_EVENT_TYPE_PATTERN, description="Events of this type."
    )
    created_from: AwareDatetime | None = Field(default=None, description="Created at or after this.")
    created_until: AwareDatetime | None = Field(default=None, description="Created before this.")


class ReplayResponse(BaseModel):
    selected: int = Field(description="Stored events that matched.")
    published: int = Field(description="Published to the stream again.")
    already_in_stream: int = Field(
        description="Dropped by JetStream as repeats inside its duplicate window (still in the stream)."
    )


class BackfillRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    since: AwareDatetime | None = Field(
        default=None, description="Only events created at or after this; default: all Stripe holds (30 days)."
    )
    accounts: list[Annotated[str, Field(pattern=r"^acct_[A-Za-z0-9]+$")]] = Field(
        default_factory=list, max_length=1_000, description="Connected accounts to list events of too."
    )
    known_accounts: bool = Field(
        default=False, description="Also every connected account some stored event came from."
    )


class SkippedAccountResponse(BaseModel):
    account: str = Field(description="The connected account (acct_…).")
    reason: str = Field(description="Stripe's refusal: status, code and message.")


class BackfillResponse(BaseModel):
    listed: int = Field(description="Events Stripe listed.")
    ingested: int = Field(description="Events that were missing (or unpublished), now stored and published.")
    already_stored: int = Field(description="Events already stored and published: left as they were.")
    rejected: int = Field(description="Listed events that failed the checks (e.g. wrong livemode).")
    skipped_accounts: list[SkippedAccountResponse] = Field(
        description="Connected accounts Stripe refused to list (deleted, access revoked); others went on."
    )


@router.post("/replay", summary="Publish stored events again (receivers treat them as duplicates)")
async def replay(request: ReplayRequest, gateway: GatewayDep) -> ReplayResponse:
    selection = db.EventSelection(
        event_ids=tuple(request.event_ids),
        event_type=request.event_type,
        created_from=request.created_from,
        created_until=request.created_until,
    )
    if selection.is_empty:
        raise ApiError(400, "empty_selection", "give event_ids, event_type or a created range")
    try:
        result = await gateway.ingest.replay(selection)
    except IngestUnavailableError as error:
        log.warning("replay stopped: %s", error)
        raise _unavailable() from None
    return ReplayResponse(
        selected=result.selected, published=result.published, already_in_stream=result.already_in_stream
    )


@router.post("/backfill", summary="Ingest the events Stripe holds that never arrived")
async def run_backfill(
    request: BackfillRequest, gateway: GatewayDep, source: StripeEventsDep
) -> BackfillResponse:
    settings = gateway.settings
    accounts = list(request.accounts)
    if request.known_accounts:
        try:
            known = await gateway.ingest.known_accounts()
        except IngestUnavailableError:
            raise _unavailable() from None
        accounts += [account for account in known if account not in accounts]
    try:
        result = await backfill(
            gateway.ingest,
            source,
            accounts=accounts,
            created_since=_unix(request.since),
            expected_livemode=settings.expected_livemode,
        )
    except stripe.StripeError as error:
        refusal = type(error).__name__
        log.warning("backfill: Stripe refused the listing: %s", refusal)
        raise ApiError(502, "stripe_error", f"Stripe refused the listing: {refusal}") from None
    except RequestBudgetExhaustedError as error:
        # The members' calls hold Stripe's rate for longer than a listing may wait: later, then.
        log.warning("backfill stopped: %s", error)
        raise StripeBusyError(str(error)) from None
    except RequestBudgetUnavailableError as error:
        log.warning("backfill stopped: %s", error)
        raise ApiError(
            503, "unavailable", "the shared Stripe request budget is unavailable; retry later"
        ) from None
    except IngestUnavailableError:
        raise _unavailable() from None
    return BackfillResponse(
        listed=result.listed,
        ingested=result.ingested,
        already_stored=result.already_stored,
        rejected=result.rejected,
        skipped_accounts=[
            SkippedAccountResponse(account=s.account, reason=s.reason) for s in result.skipped_accounts
        ],
    )


def _unavailable() -> ApiError:
    return ApiError(503, "unavailable", "event store or stream unavailable; retry later")


def _unix(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None
