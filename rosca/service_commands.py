"""A service's own operator commands as ``rosca <service> …``, run in the stack of --data-dir."""

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from rosca.stack.local_secrets import read_env_file
from rosca.stack.state import (
    DEFAULT_DATA_DIR,
    require_running_stack,
    running_stack,
    service_environment_path,
)

DataDirOption = Annotated[
    Path, typer.Option("--data-dir", help="Where the stack keeps its data, logs and stack.json.")
]


def run_in_the_stack(service_app: typer.Typer, service: str, *, help: str) -> TyperGroup:
    """The service's own commands, each run with the settings the stack in --data-dir gave the service.

    The caller's own ``ROSCA_<SERVICE>_*`` variables win. With no stack running there, the caller must
    have named the service's NATS (``ROSCA_<SERVICE>_NATS_URL``): never the default port's.
    """
    chosen: dict[str, Path] = {}

    def remember(data_dir: DataDirOption = DEFAULT_DATA_DIR) -> None:
        chosen["data_dir"] = data_dir

    def use_the_stacks_settings() -> None:
        use_stack_settings(chosen.get("data_dir", DEFAULT_DATA_DIR), service)

    # Looked up as a command runs, not in the group's callback: that one runs before a command's
    # --help too, which must work with no stack.
    holder = typer.Typer()
    holder.add_typer(service_app, name=service, callback=remember, help=help)
    group = typer.main.get_command(holder)
    assert isinstance(group, TyperGroup)
    commands = group.commands[service]
    assert isinstance(commands, TyperGroup)
    for command in commands.commands.values():
        if command.callback is not None:
            command.callback = _first(use_the_stacks_settings, command.callback)
    return commands


def use_stack_settings(data_dir: Path, service: str) -> None:
    """Put the settings the stack in ``data_dir`` gave ``service`` in the environment (the caller's
    own ``ROSCA_<SERVICE>_*`` win). With no stack running there, the caller must have named the
    service's NATS (``ROSCA_<SERVICE>_NATS_URL``): never the default port's."""
    prefix = f"ROSCA_{service.upper()}_"
    if running_stack(data_dir) is None and f"{prefix}NATS_URL" in os.environ:
        return  # the caller's own deployment
    require_running_stack(
        data_dir,
        otherwise=f"or set {prefix}NATS_URL and {prefix}DATABASE_URL to work on another deployment",
    )
    for name, value in read_env_file(service_environment_path(data_dir, service)).items():
        os.environ.setdefault(name, value)


def _first(before: Callable[[], None], callback: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        before()
        return callback(*args, **kwargs)

    return run
