"""The ``rosca`` command: run the local stack and operate it (streams, clock, webhooks, AsyncAPI)."""

import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar
from uuid import UUID

import typer
from typer.core import TyperGroup

from rosca.console import say, warn
from rosca.errors import CliError, UsageError, one_line
from rosca.lazy_command import LazyCommand
from rosca.service_commands import DataDirOption, run_in_the_stack
from rosca.stack.state import DEFAULT_DATA_DIR, StackState, require_running_stack

# Each command imports what it needs when it runs (hence PLC0415 below): importing every command's
# modules up front (FastAPI, SQLAlchemy, the stripe SDK, a service's app) made each command take
# seconds to start.

T = TypeVar("T")

# The origin of a frontend in development (onboarding's return URLs point there too).
DEVELOPMENT_CORS_ORIGINS = "http://localhost:3000"


class RoscaCommands(TyperGroup):
    """rosca's own commands, and a service's operator commands, loaded only when one of them runs."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.add_command(LazyCommand("webhooks", WEBHOOKS_HELP, _webhooks_commands))


app = typer.Typer(
    name="rosca",
    cls=RoscaCommands,
    help="Run the rosca stack locally and operate it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
streams_app = typer.Typer(help="JetStream streams declared in contracts/.", no_args_is_help=True)
clock_app = typer.Typer(help="The shared simulated clock kept in NATS.", no_args_is_help=True)
app.add_typer(streams_app, name="streams")
app.add_typer(clock_app, name="clock")


class ClockMode(StrEnum):
    simulated = "simulated"
    system = "system"


class LogLevel(StrEnum):
    debug = "DEBUG"
    info = "INFO"
    warning = "WARNING"
    error = "ERROR"


NatsUrlOption = Annotated[
    str | None,
    typer.Option(
        "--nats-url",
        envvar="ROSCA_NATS_URL",
        help="Another NATS to use instead of the stack's (the stack running in --data-dir).",
    ),
]
NamespaceOption = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        help="Prefix of subjects, streams and buckets; default: the stack's (none with --nats-url).",
    ),
]
WaitOption = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="Then wait until the scheduler has fired and published every timer due by the new time.",
    ),
]
WaitTimeoutOption = Annotated[
    float, typer.Option("--wait-timeout", min=0.1, help="Longest --wait waits, in seconds.")
]


@app.command(
    epilog="Stripe: without STRIPE_API_KEY the Stripe simulator is started and wired in; with a test-mode "
    "key (sk_test_…) the services use Stripe itself, and STRIPE_WEBHOOK_PLATFORM_SECRET / "
    "STRIPE_WEBHOOK_CONNECT_SECRET are the signing secrets of the endpoints registered there."
)
def up(
    *,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    gateway_port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the gateway.")] = 8100,
    nats_port: Annotated[int, typer.Option(min=0, max=65535, help="Port of NATS; 0 picks a free one.")] = 0,
    clock: Annotated[ClockMode, typer.Option(help="Time the services read.")] = ClockMode.simulated,
    namespace: Annotated[
        str, typer.Option(help="Prefix of every subject, stream and durable (empty: none).")
    ] = "",
    log_level: Annotated[LogLevel, typer.Option(help="Log level of the services.")] = LogLevel.info,
    ready_timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for every service to be ready.")
    ] = 60.0,
    database_url: Annotated[
        str | None,
        typer.Option(
            envvar="DATABASE_URL",
            help="Postgres server to use (each service gets database rosca_<service> on it); "
            "without it, an embedded Postgres in <data-dir>/postgres.",
        ),
    ] = None,
    cors_origins: Annotated[
        str,
        typer.Option(
            envvar="ROSCA_GATEWAY_CORS_ORIGINS",
            help="Origins of the browser apps that may call the API through the gateway, "
            "comma-separated (empty: none).",
        ),
    ] = DEVELOPMENT_CORS_ORIGINS,
    restart_crashed: Annotated[
        bool,
        typer.Option(
            "--restart-crashed",
            help="Start again, after a short back-off, any process of the stack that exits or is killed "
            "(NATS on its port and store, the embedded Postgres on its data) instead of stopping them all.",
        ),
    ] = False,
    nats_cluster: Annotated[
        bool,
        typer.Option(
            "--nats-cluster",
            help="Run NATS as deployed: a three-node JetStream cluster (three processes, deploy/nats's "
            "configuration, sync_interval always) with three replicas of each stream.",
        ),
    ] = False,
) -> None:
    """Start NATS, Postgres, the Stripe simulator, the services and the gateway; Ctrl-C stops them all."""
    from rosca.gateway import parse_origins  # noqa: PLC0415
    from rosca.stack.stripe import configured_stripe  # noqa: PLC0415
    from rosca.stack.up import UpOptions, run_up  # noqa: PLC0415

    stripe = configured_stripe(os.environ)
    status = run_up(
        UpOptions(
            data_dir=data_dir,
            gateway_port=gateway_port,
            nats_port=nats_port,
            clock=clock.value,
            namespace=namespace,
            log_level=log_level.value,
            ready_timeout_seconds=ready_timeout,
            database_url=database_url or None,
            cors_origins=tuple(_parsed("--cors-origins", parse_origins, cors_origins)),
            stripe=stripe,
            restart_crashed=restart_crashed,
            nats_cluster=nats_cluster,
        )
    )
    raise typer.Exit(status)


@app.command()
def gateway(
    routes: Annotated[
        str,
        typer.Option(envvar="ROSCA_GATEWAY_ROUTES", help="name=http://host:port pairs, comma-separated."),
    ],
    host: Annotated[str, typer.Option(envvar="ROSCA_GATEWAY_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="ROSCA_GATEWAY_PORT", min=1, max=65535)] = 8100,
    cors_origins: Annotated[
        str,
        typer.Option(
            envvar="ROSCA_GATEWAY_CORS_ORIGINS",
            help="Origins of the browser apps that may call through it, comma-separated.",
        ),
    ] = "",
) -> None:
    """Serve only the gateway over the given routes (``rosca up`` starts one itself)."""
    from rosca import gateway as gateway_module  # noqa: PLC0415

    gateway_module.serve(
        _parsed("--routes", gateway_module.parse_routes, routes),
        host=host,
        port=port,
        cors_origins=_parsed("--cors-origins", gateway_module.parse_origins, cors_origins),
    )


def _parsed(option: str, parse: Callable[[str], T], text: str) -> T:
    try:
        return parse(text)
    except ValueError as error:
        raise UsageError(f"{option}: {error}") from None


@streams_app.command("provision")
def streams_provision(
    nats_url: NatsUrlOption = None,
    namespace: NamespaceOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Create or update every stream and the clock bucket (idempotent)."""
    import asyncio  # noqa: PLC0415

    from rosca.streams import describe_provisioning, provision  # noqa: PLC0415

    url, prefix = _nats_target(nats_url, namespace, data_dir)
    results = asyncio.run(provision(url, prefix))
    say(f"streams on {url}: {describe_provisioning(results)}")


@clock_app.command("show")
def clock_show(
    nats_url: NatsUrlOption = None,
    namespace: NamespaceOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Print the simulated time."""
    import asyncio  # noqa: PLC0415

    from rosca.clock import show_clock  # noqa: PLC0415

    url, prefix = _clock_target(nats_url, namespace, data_dir)
    say(asyncio.run(show_clock(url, prefix)).isoformat())


@clock_app.command("advance")
def clock_advance(
    duration: Annotated[str, typer.Argument(help="How far: 2d, 36h, 1w2d, 90m, 45s.")],
    *,
    nats_url: NatsUrlOption = None,
    namespace: NamespaceOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    wait: WaitOption = False,
    wait_timeout: WaitTimeoutOption = 60.0,
) -> None:
    """Move the simulated time forward; every timer due in between fires."""
    import asyncio  # noqa: PLC0415

    from rosca.clock import advance_clock, describe_move, parse_delta  # noqa: PLC0415

    delta = parse_delta(duration)
    url, prefix = _clock_target(nats_url, namespace, data_dir, waiting=wait)
    before, after = asyncio.run(advance_clock(url, prefix, delta))
    say(describe_move(before, after))
    if wait:
        _wait_for_timers(url, prefix, after, wait_timeout)


@clock_app.command("set")
def clock_set(
    moment: Annotated[str, typer.Argument(help="ISO 8601 with an offset, e.g. 2027-01-01T00:00:00+00:00.")],
    *,
    nats_url: NatsUrlOption = None,
    namespace: NamespaceOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    wait: WaitOption = False,
    wait_timeout: WaitTimeoutOption = 60.0,
) -> None:
    """Set the simulated time (never backwards)."""
    import asyncio  # noqa: PLC0415

    from rosca.clock import describe_move, parse_moment, set_clock  # noqa: PLC0415

    target = parse_moment(moment)
    url, prefix = _clock_target(nats_url, namespace, data_dir, waiting=wait)
    before, after = asyncio.run(set_clock(url, prefix, target))
    say(describe_move(before, after))
    if wait:
        _wait_for_timers(url, prefix, after, wait_timeout)


def _wait_for_timers(url: str, prefix: str, moment: datetime, timeout_seconds: float) -> None:
    import asyncio  # noqa: PLC0415

    from rosca.clock import wait_for_timers  # noqa: PLC0415

    started = time.monotonic()
    asyncio.run(wait_for_timers(url, prefix, moment, timeout_seconds))
    say(f"scheduler: every timer due by then is published ({time.monotonic() - started:.1f} s)")


@app.command()
def demo(
    *,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    gateway_port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of the gateway, if the demo starts the stack.")
    ] = 8100,
) -> None:
    """Run one circle's whole rotation on the simulated clock, with trouble on the way, then its statement.

    Uses the stack running in --data-dir, or starts one there (and stops it at the end).
    """
    from rosca.demo.run import run_demo  # noqa: PLC0415

    run_demo(data_dir, gateway_port)


@app.command()
def chaos(
    *,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed of the fault plan and of the simulator's faults (default: random)."),
    ] = None,
    groups: Annotated[
        int, typer.Option(min=1, max=200, help="Groups of three taken through their rotation.")
    ] = 20,
    quick: Annotated[
        bool, typer.Option("--quick", help="The short version (CI): fewer faults over fewer minutes.")
    ] = False,
    until: Annotated[
        str,
        typer.Option(
            help="The end every group must reach: 'rotation' (every cycle paid) or 'funded' (every cycle "
            "collected and handed to payouts)."
        ),
    ] = "rotation",
    data_dir: Annotated[
        Path, typer.Option(help="The chaos stack's own data dir, emptied at the start of each run.")
    ] = Path(".rosca-chaos"),
    nats_cluster: Annotated[
        bool,
        typer.Option(
            "--nats-cluster",
            help="NATS as deployed: a three-node JetStream cluster, 3 replicas a stream; its nodes and "
            "the stream leader are killed too.",
        ),
    ] = False,
) -> None:
    """Groups through their rotations while processes of the stack are killed and Stripe misbehaves; then
    every group's end, Stripe's books and the money are checked. Prints the seed first."""
    from rosca.chaos.circles import Goal  # noqa: PLC0415
    from rosca.chaos.run import ChaosOptions, run_chaos  # noqa: PLC0415

    if until not in Goal.ALL:
        raise UsageError(f"--until: one of {', '.join(Goal.ALL)}")
    chosen = seed if seed is not None else secrets.randbelow(2**31)
    options = ChaosOptions(
        seed=chosen, groups=groups, quick=quick, goal=until, data_dir=data_dir, nats_cluster=nats_cluster
    )
    raise typer.Exit(run_chaos(options, say))


@app.command(
    "stripe-sim",
    add_help_option=False,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def stripe_sim(context: typer.Context) -> None:
    """Run the Stripe simulator in the foreground (`rosca stripe-sim --help` lists its options)."""
    from simulators.stripe_sim import __main__ as stripe_sim_main  # noqa: PLC0415  # only this command needs it

    stripe_sim_main.main(context.args, prog="rosca stripe-sim")


onboarding_app = typer.Typer(
    help="Onboarding development commands (`mint-token` makes a member's bearer token) for the stack "
    "in --data-dir.",
    no_args_is_help=True,
)
app.add_typer(onboarding_app, name="onboarding")


@onboarding_app.callback()
def onboarding(context: typer.Context, data_dir: DataDirOption = DEFAULT_DATA_DIR) -> None:
    context.obj = data_dir


@onboarding_app.command("mint-token")
def mint_token(
    context: typer.Context,
    *,
    sub: Annotated[str, typer.Option("--sub", help="The member id the token is for (its `sub`).")],
    ttl: Annotated[str, typer.Option("--ttl", help="How long it is valid: 90m, 8h, 2d…")] = "1h",
    email: Annotated[str | None, typer.Option(help="An `email` claim (registration's default).")] = None,
    name: Annotated[str | None, typer.Option(help="A `name` claim (registration's default).")] = None,
) -> None:
    """Print a member's bearer token that the stack in --data-dir accepts (signed with its own secret)."""
    from rosca.member_tokens import stack_member_token  # noqa: PLC0415
    from services.runtime.clock import parse_duration  # noqa: PLC0415

    lifetime = _parsed("--ttl", parse_duration, ttl)
    data_dir: Path = context.obj
    say(stack_member_token(data_dir, sub, lifetime=lifetime, email=email, name=name))


@app.command()
def reconcile(
    *,
    day: Annotated[
        datetime | None,
        typer.Option(
            "--date",
            formats=["%Y-%m-%d"],
            help="The day to reconcile, YYYY-MM-DD in Australia/Sydney (default: yesterday on the "
            "stack's clock).",
        ),
    ] = None,
    group: Annotated[
        UUID | None, typer.Option("--group", help="Reconcile this group instead of a day.")
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Compare collections' ledger with Stripe's records for a day or a group; print every difference,
    exit 1 if there is any."""
    from rosca.service_commands import use_stack_settings  # noqa: PLC0415
    from services.collections import cli as collections_cli  # noqa: PLC0415

    use_stack_settings(data_dir, "collections")
    collections_cli.reconcile_command(day=day, group=group)


def _webhooks_commands() -> TyperGroup:
    from services.webhooks import cli as webhooks_cli  # noqa: PLC0415

    return run_in_the_stack(webhooks_cli.app, "webhooks", help=WEBHOOKS_HELP)


WEBHOOKS_HELP = (
    "Stripe events: replay stored ones, backfill missed ones. Settings: the ROSCA_WEBHOOKS_* variables "
    "set, the rest from the stack running in --data-dir."
)


@app.command()
def asyncapi(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
) -> None:
    """Print (or write) the AsyncAPI document of every subject."""
    from contracts.asyncapi import asyncapi_document  # noqa: PLC0415  # only this command needs it

    text = json.dumps(asyncapi_document(), indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text)
    except OSError as error:
        raise CliError(f"cannot write {output}: {error.strerror}") from None
    say(f"wrote {output}")


def _nats_target(nats_url: str | None, namespace: str | None, data_dir: Path) -> tuple[str, str]:
    """NATS URL and namespace: --nats-url as given, else the stack's running in ``data_dir``."""
    if nats_url:
        return nats_url, namespace or ""
    stack = _running_stack(data_dir)
    return stack.nats_url, namespace if namespace is not None else stack.namespace


def _clock_target(
    nats_url: str | None, namespace: str | None, data_dir: Path, *, waiting: bool = False
) -> tuple[str, str]:
    stack = _running_stack(data_dir) if not nats_url else None
    if stack is not None and stack.clock != "simulated":
        if waiting:
            raise UsageError(
                f"--wait: the stack in {data_dir} runs on the {stack.clock} clock, whose timers fire on "
                "their own; only the simulated clock can be waited on"
            )
        warn(f"note: the stack in {data_dir} runs on the {stack.clock} clock; services ignore this one")
    return _nats_target(nats_url, namespace, data_dir)


def _running_stack(data_dir: Path) -> StackState:
    return require_running_stack(data_dir, otherwise="or pass --nats-url to use another NATS")


def main() -> None:
    try:
        app()
    except CliError as error:
        warn(f"error: {error}")
        if error.details:
            warn(error.details)
        raise SystemExit(error.exit_code) from None
    except Exception as error:
        warn(f"error: unexpected {one_line(error)}")
        raise SystemExit(1) from None
