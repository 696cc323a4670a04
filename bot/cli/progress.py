"""Progress of long work: a rich bar on a terminal, a plain line every few seconds when not (logs, CI, pipes).

`progress(label)` yields a `Report`, `report(done, total)`, to hand to the work as its `progress` callback.
It writes to stderr, so machine-readable output on stdout (`--json`) stays clean.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

Report = Callable[[int, int], None]
EVERY_SECONDS = 5.0  # plain lines: at most one this often, and one when the work is done


@contextmanager
def progress(label: str, console: Console | None = None, every: float = EVERY_SECONDS) -> Iterator[Report]:
    """Show the progress of the work done inside the block (the label names it: 'kb eval', 'privacy erase')."""
    out = console or Console(stderr=True)
    if out.is_terminal:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn())
        with Progress(*columns, console=out, transient=True) as bar:
            task = bar.add_task(label, total=None)
            yield lambda done, total: bar.update(task, completed=done, total=total)
        return
    yield _plain_lines(label, out, every)


def _plain_lines(label: str, out: Console, every: float) -> Report:
    start = last = time.monotonic()

    def report(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if done >= total or now - last >= every:
            share = f" ({100 * done // total}%)" if total else ""
            out.print(f"{label}: {done}/{total}{share}, {now - start:.0f} s", markup=False, highlight=False)
            last = now

    return report
