"""What the demo shows while it runs: the story so far, and a progress bar of its chapters."""

import sys
from datetime import datetime
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class Narration:
    """Prints each event of the story and keeps a live bar of chapters done, simulated date and wait."""

    def __init__(self, chapters: int, console: Console | None = None) -> None:
        # Wide enough for the statement's tables when the output is a file or a CI log.
        self.console = console or Console(highlight=False, width=None if sys.stdout.isatty() else 120)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[today]}  {task.fields[waiting]}"),
            console=self.console,
            transient=True,
        )
        self._task = self._progress.add_task("chapters", total=chapters, today="", waiting="")

    def __enter__(self) -> "Narration":
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._progress.stop()

    def chapter(self, title: str) -> None:
        self.console.print(f"\n[bold underline]{title}[/]")

    def chapter_done(self) -> None:
        self._progress.advance(self._task)

    def say(self, line: str) -> None:
        self.console.print(f"  {line}")

    def today(self, moment: datetime) -> None:
        self._progress.update(self._task, today=f"simulated {moment:%a %d %b %Y %H:%M} UTC")

    def waiting_for(self, what: str) -> None:
        self._progress.update(self._task, waiting=f"waiting for {what}" if what else "")
