"""Operator command of collections: reconcile the ledger with Stripe now, for a day or a group.

Configured like the service (``ROSCA_COLLECTIONS_*``; ``rosca reconcile`` takes them from the stack
running in --data-dir), working on its database and Stripe directly, its Stripe reads waiting their
turn in the namespace's shared budget as the service's do. The run is stored and announced as the
daily one is (its announcement leaves through the service's outbox). Exit status: 0 when the books
agree, 1 when differences were found (or the run failed), 2 when the settings are wrong.
"""

import asyncio
from datetime import date, datetime, timedelta
from typing import Annotated
from uuid import UUID

import nats
import stripe
import typer

from services.collections.domain.reconciliation import PLATFORM_TIMEZONE, day_of
from services.collections.service_layer.reconciliation import Scope, reconcile
from services.collections.settings import CollectionsSettings
from services.collections.store.reconciliation import RunRecord
from services.collections.stripe_books import StripeBooksReader
from services.runtime.clock import CLOCK_BUCKET, SimulatedClock
from services.runtime.db import Database
from services.runtime.entrypoint import ConfigurationError, load_settings
from services.runtime.naming import Namespace
from services.runtime.request_budget import RequestBudgetExhaustedError, RequestBudgetUnavailableError
from services.runtime.stripe_client import stripe_client, stripe_request_budget

app = typer.Typer(
    name="collections",
    help="Collections' operator commands (ROSCA_COLLECTIONS_* settings).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DIFFERENCES_FOUND = 1
BAD_SETTINGS = 2


@app.command("reconcile")
def reconcile_command(
    *,
    day: Annotated[
        datetime | None,
        typer.Option(
            "--date",
            formats=["%Y-%m-%d"],
            help=f"The day to reconcile, YYYY-MM-DD in {PLATFORM_TIMEZONE} (default: yesterday on the "
            "service clock).",
        ),
    ] = None,
    group: Annotated[
        UUID | None, typer.Option("--group", help="Reconcile this group's cycles instead of a day.")
    ] = None,
) -> None:
    """Compare the ledger with Stripe's records and print every difference (exit 1 if any)."""
    if day is not None and group is not None:
        raise typer.BadParameter("give --date or --group, not both")
    try:
        settings = load_settings(CollectionsSettings)
    except ConfigurationError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(BAD_SETTINGS) from None
    try:
        record = asyncio.run(_reconcile(settings, day.date() if day else None, group))
    except (ConfigurationError, OSError, RequestBudgetUnavailableError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(DIFFERENCES_FOUND) from None
    except RequestBudgetExhaustedError as error:
        typer.echo(f"error: Stripe is busy, try again later: {error}", err=True)
        raise typer.Exit(DIFFERENCES_FOUND) from None
    except stripe.StripeError as error:
        typer.echo(f"error: Stripe refused a read: {type(error).__name__}: {error.user_message}", err=True)
        raise typer.Exit(DIFFERENCES_FOUND) from None
    typer.echo(describe(record))
    if record.differences:
        raise typer.Exit(DIFFERENCES_FOUND)


async def _reconcile(settings: CollectionsSettings, day: date | None, group: UUID | None) -> RunRecord:
    client = await nats.connect(settings.nats_url.split(","), connect_timeout=2, max_reconnect_attempts=2)
    database = Database(settings.database_url, pool_size=2)
    try:
        jetstream = client.jetstream()
        namespace = Namespace(settings.namespace)
        now = await _service_now(settings, client.jetstream(), namespace)
        scope = Scope(group_id=group) if group else Scope(day=day or day_of(now) - timedelta(days=1))
        typer.echo(f"reconciling {_scope_text(scope)} with Stripe…", err=True)
        budget = stripe_request_budget(settings, namespace, lambda: jetstream)
        stripe_api = stripe_client(settings, budget)
        reader = StripeBooksReader(stripe_api, progress=lambda line: typer.echo(f"  {line}", err=True))
        try:
            async with database.transaction() as session:
                return await reconcile(session, reader, scope, trigger="cli", now=now)
        finally:
            await stripe_api.close()
    finally:
        await client.drain()
        await database.dispose()


async def _service_now(
    settings: CollectionsSettings, js: nats.js.JetStreamContext, namespace: Namespace
) -> datetime:
    """Now as the services read it: the simulated clock's instant, or the system's."""
    if settings.clock != "simulated":
        return datetime.now().astimezone()
    clock = SimulatedClock(js, namespace.bucket(CLOCK_BUCKET))
    await clock.start()
    try:
        return clock.now()
    finally:
        await clock.stop()


def _scope_text(scope: Scope) -> str:
    return f"{scope.day} ({PLATFORM_TIMEZONE})" if scope.day else f"group {scope.group_id}"


def describe(record: RunRecord) -> str:
    """The run as an operator reads it: one line of counts, then each difference."""
    what = f"{record.day} ({PLATFORM_TIMEZONE})" if record.day else f"group {record.group_id}"
    head = (
        f"{what}: {record.cycles_checked} cycles, {record.stripe_objects_read} Stripe objects read, "
        f"run {record.run_id}"
    )
    if not record.differences:
        return f"{head}\nreconciled: the ledger and Stripe agree to the cent"
    lines = [head, f"{len(record.differences)} differences:"]
    for difference in record.differences:
        cycle = f"cycle {difference.cycle_id}" if difference.cycle_id else "no cycle"
        lines.append(
            f"  {difference.kind}  {cycle}  {', '.join(difference.object_ids)}  "
            f"ledger {_money(difference.expected)}  Stripe {_money(difference.actual)} {difference.currency}"
        )
        lines.append(f"      {difference.note}")
    return "\n".join(lines)


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}{dollars}.{rest:02d}"


if __name__ == "__main__":
    app()
