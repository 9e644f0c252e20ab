"""Progress bars for transfers that last over a second (never in --json mode or without a terminal)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from medledger.cli.context import AppContext

SHOW_AFTER_SECONDS = 1.0


@contextmanager
def file_progress(app: AppContext, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Yield an `advance(n_bytes)` callback; a rich bar appears only once a second has passed."""
    if app.settings.json or not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    started = time.monotonic()
    pending = 0  # bytes moved before the bar appeared
    shown: tuple[Progress, TaskID] | None = None

    def advance(n: int) -> None:
        nonlocal pending, shown
        if shown is None:
            if time.monotonic() - started < SHOW_AFTER_SECONDS:
                pending += n
                return
            progress = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                transient=True,
            )
            progress.start()
            shown = (progress, progress.add_task(description, total=total, completed=pending))
        bar, task = shown
        bar.advance(task, n)

    try:
        yield advance
    finally:
        if shown is not None:
            shown[0].stop()
