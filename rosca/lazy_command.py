"""A command group listed by name and summary, imported only when it runs (or shows its own help).

``rosca --help`` and every other command then start without importing what only that subcommand
needs (a service's database layer, say): Click asks a command for its context before running it,
and this one hands over the real command's.
"""

from collections.abc import Callable
from typing import Any

from typer.core import TyperCommand, TyperGroup


class LazyCommand(TyperCommand):
    def __init__(self, name: str, summary: str, load: Callable[[], TyperGroup]) -> None:
        super().__init__(name=name, help=summary, short_help=summary)
        self._load = load

    # Typer's Click context types are private (typer._click): the real command's own, passed through.
    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        return self._load().make_context(info_name, args, parent=parent, **extra)
