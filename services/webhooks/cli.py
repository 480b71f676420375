"""Operator commands of the webhook gateway: replay stored events, backfill missed ones from Stripe.

Configured like the service (``ROSCA_WEBHOOKS_*``), working on its database and NATS directly, so
they run whether or not the service is up: ``python -m services.webhooks.cli replay --type …``.
Backfill's Stripe requests take their turns in the namespace's shared Stripe budget, as the
service's do.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import nats
import stripe
import typer
from nats.js import JetStreamContext

from services.runtime.db import Database
from services.runtime.entrypoint import ConfigurationError, load_settings
from services.runtime.naming import Namespace
from services.runtime.request_budget import RequestBudgetExhaustedError, RequestBudgetUnavailableError
from services.webhooks import db
from services.webhooks.backfill import backfill as run_backfill
from services.webhooks.ingest import EventIngest, EventPublisher, IngestUnavailableError
from services.webhooks.settings import WebhooksSettings
from services.webhooks.stripe import StripeEventSource

app = typer.Typer(
    name="webhooks",
    help="Stripe events: replay stored ones, backfill missed ones (ROSCA_WEBHOOKS_* settings).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")


@app.command()
def replay(
    *,
    event: Annotated[list[str] | None, typer.Option("--event", help="An event id (repeatable).")] = None,
    event_type: Annotated[str | None, typer.Option("--type", help="Events of this type.")] = None,
    created_from: Annotated[
        datetime | None, typer.Option("--from", help="Created at or after (ISO, UTC if no zone).")
    ] = None,
    created_until: Annotated[
        datetime | None, typer.Option("--until", help="Created before (ISO, UTC if no zone).")
    ] = None,
) -> None:
    """Publish stored events again; every consumer treats them as duplicates."""
    selection = db.EventSelection(
        event_ids=tuple(event or ()),
        event_type=event_type,
        created_from=_aware(created_from),
        created_until=_aware(created_until),
    )
    if selection.is_empty:
        raise typer.BadParameter("give --event, --type, or --from/--until")
    result = _run(lambda ingest, _settings, _jetstream: ingest.replay(selection))
    typer.echo(
        f"replayed {result.selected} events: {result.published} published, "
        f"{result.already_in_stream} still inside JetStream's duplicate window"
    )


@app.command()
def backfill(
    *,
    since: Annotated[
        datetime | None, typer.Option(help="Only events created at or after (default: all of 30 days).")
    ] = None,
    account: Annotated[
        list[str] | None, typer.Option("--account", help="A connected account to list too (repeatable).")
    ] = None,
    known_accounts: Annotated[
        bool, typer.Option(help="Also every connected account a stored event came from.")
    ] = False,
) -> None:
    """List events from Stripe and ingest those that never arrived (idempotent)."""

    async def work(
        ingest: EventIngest, settings: WebhooksSettings, jetstream: Callable[[], JetStreamContext]
    ) -> str:
        if settings.stripe_api_key is None:
            raise ConfigurationError("ROSCA_WEBHOOKS_STRIPE_API_KEY is not set")
        accounts = list(account or ())
        if known_accounts:
            accounts += [a for a in await ingest.known_accounts() if a not in accounts]
        moment = _aware(since)
        source = StripeEventSource.within_budget(settings, jetstream)
        try:
            result = await run_backfill(
                ingest,
                source,
                accounts=accounts,
                created_since=int(moment.timestamp()) if moment else None,
                expected_livemode=settings.expected_livemode,
            )
        finally:
            await source.close()
        skipped = "".join(f"\nskipped {s.account}: {s.reason}" for s in result.skipped_accounts)
        return (
            f"listed {result.listed} events: {result.ingested} ingested, "
            f"{result.already_stored} already stored, {result.rejected} rejected, "
            f"{len(result.skipped_accounts)} accounts skipped{skipped}"
        )

    typer.echo(_run(work))


def _run(
    work: Callable[[EventIngest, WebhooksSettings, Callable[[], JetStreamContext]], Awaitable[T]],
) -> T:
    try:
        settings = load_settings(WebhooksSettings)
    except ConfigurationError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None

    async def connected() -> T:
        client = await nats.connect(settings.nats_url.split(","), connect_timeout=2, max_reconnect_attempts=2)
        database = Database(settings.database_url, pool_size=2)
        try:
            ingest = EventIngest(
                database,
                EventPublisher(lambda: client, Namespace(settings.namespace)),
                timeout=max(settings.ingest_timeout_seconds, 5.0),
            )
            try:
                jetstream = client.jetstream()
                return await work(ingest, settings, lambda: jetstream)
            finally:
                await ingest.close()
        finally:
            await client.drain()
            await database.dispose()

    try:
        return asyncio.run(connected())
    except (ConfigurationError, IngestUnavailableError, OSError, RequestBudgetUnavailableError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    except RequestBudgetExhaustedError as error:
        # The services' calls hold Stripe's rate for longer than a listing may wait.
        typer.echo(f"error: Stripe is busy, try again later: {error}", err=True)
        raise typer.Exit(1) from None
    except stripe.StripeError as error:
        # The platform's own listing failed (a connected account's refusal only skips that account).
        typer.echo(
            f"error: Stripe refused the listing: {type(error).__name__}: {error.user_message}", err=True
        )
        raise typer.Exit(1) from None


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


if __name__ == "__main__":
    app()
