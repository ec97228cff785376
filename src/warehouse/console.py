"""Terminal output shared by the CLI commands and the demo: progress bars and their callbacks."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


def new_progress(console: Console) -> Progress:
    """A progress display: description, bar, done/total, elapsed time."""
    return Progress(
        TextColumn("{task.description:<42}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


class BarAdvance:
    """A :class:`warehouse.progress.ProgressCallback` that advances one task of a rich progress display."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task

    def __call__(self, advance: int, total: int | None = None) -> None:
        if total is not None:
            self._progress.update(self._task, total=total)
        self._progress.advance(self._task, advance)
