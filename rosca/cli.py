"""The ``rosca`` command: run the local stack and operate it (streams, simulated clock, AsyncAPI)."""

import asyncio
import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from rosca import gateway as gateway_module
from rosca.clock import (
    advance_clock,
    describe_move,
    parse_delta,
    parse_moment,
    set_clock,
    show_clock,
)
from rosca.console import say, warn
from rosca.errors import CliError, UsageError
from rosca.jetstream import describe_provisioning, one_line, provision
from rosca.stack.state import running_stack
from rosca.stack.up import UpOptions, run_up

DEFAULT_DATA_DIR = Path(".rosca")
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"

app = typer.Typer(
    name="rosca",
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


DataDirOption = Annotated[
    Path, typer.Option("--data-dir", help="Where the stack keeps its data, logs and stack.json.")
]
NatsUrlOption = Annotated[
    str | None,
    typer.Option("--nats-url", help="NATS to use; default: the running stack's, else $ROSCA_NATS_URL."),
]
NamespaceOption = Annotated[
    str | None,
    typer.Option("--namespace", help="Prefix of subjects, streams and buckets; default: the stack's."),
]


@app.command()
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
) -> None:
    """Start NATS, Postgres, the five services and the gateway; Ctrl-C stops them all."""
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
) -> None:
    """Serve only the gateway over the given routes (``rosca up`` starts one itself)."""
    try:
        table = gateway_module.parse_routes(routes)
    except ValueError as error:
        raise UsageError(f"--routes: {error}") from None
    gateway_module.serve(table, host=host, port=port)


@streams_app.command("provision")
def streams_provision(
    nats_url: NatsUrlOption = None,
    namespace: NamespaceOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Create or update every stream and the clock bucket (idempotent)."""
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
    url, prefix = _clock_target(nats_url, namespace, data_dir)
    say(asyncio.run(show_clock(url, prefix)).isoformat())


@clock_app.command("advance")
def clock_advance(
    duration: Annotated[str, typer.Argument(help="How far: 2d, 36h, 1w2d, 90m, 45s.")],
    nats_url: NatsUrlOption = None,
    namespace: NamespaceOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Move the simulated time forward; every timer due in between fires."""
    delta = parse_delta(duration)
    url, prefix = _clock_target(nats_url, namespace, data_dir)
    before, after = asyncio.run(advance_clock(url, prefix, delta))
    say(describe_move(before, after))


@clock_app.command("set")
def clock_set(
    moment: Annotated[str, typer.Argument(help="ISO 8601 with an offset, e.g. 2027-01-01T00:00:00+00:00.")],
    nats_url: NatsUrlOption = None,
    namespace: NamespaceOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Set the simulated time (never backwards)."""
    target = parse_moment(moment)
    url, prefix = _clock_target(nats_url, namespace, data_dir)
    before, after = asyncio.run(set_clock(url, prefix, target))
    say(describe_move(before, after))


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
    """NATS URL and namespace: the options, else the running stack's, else the environment."""
    stack = running_stack(data_dir)
    url = nats_url or (stack.nats_url if stack else os.environ.get("ROSCA_NATS_URL", DEFAULT_NATS_URL))
    prefix = namespace if namespace is not None else (stack.namespace if stack else "")
    return url, prefix


def _clock_target(nats_url: str | None, namespace: str | None, data_dir: Path) -> tuple[str, str]:
    stack = running_stack(data_dir) if nats_url is None else None
    if stack is not None and stack.clock != "simulated":
        warn(f"note: the stack in {data_dir} runs on the {stack.clock} clock; services ignore this one")
    return _nats_target(nats_url, namespace, data_dir)


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
