"""How long-running domain code reports progress without knowing who draws it.

Domain functions accept an optional :class:`ProgressCallback`; the CLI passes one that advances a
``rich`` progress bar, tests pass nothing. Never print from domain code.
"""

from __future__ import annotations

from typing import Protocol


class ProgressCallback(Protocol):
    """Called with units just completed and, when known, the new total."""

    def __call__(self, advance: int, total: int | None = None) -> None: ...


def no_progress(advance: int, total: int | None = None) -> None:
    """A callback that reports nowhere."""
