"""Rich progress display for long loops (off unless asked for; Rich loads only then)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

__all__ = ["track"]


def track(items: Iterable[T], *, total: int, label: str, show: bool) -> Iterator[T]:
    """Yield ``items`` unchanged, advancing a transient Rich progress bar when ``show``."""
    if not show:
        yield from items
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(label, total=total)
        for item in items:
            yield item
            bar.advance(task)
