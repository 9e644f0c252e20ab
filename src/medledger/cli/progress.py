"""Progress bars for transfers that last over a second (never in --json mode or without a terminal)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SHOW_AFTER_SECONDS = 1.0


@contextmanager
def file_progress(app, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Yield an `advance(n_bytes)` callback; a rich bar appears only once a second has passed."""
    if app.settings.json or not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    started = time.monotonic()
    state: dict[str, object] = {}

    def advance(n: int) -> None:
        if "progress" not in state:
            if time.monotonic() - started < SHOW_AFTER_SECONDS:
                state["pending"] = int(state.get("pending", 0)) + n  # type: ignore[arg-type]
                return
            progress = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                                TransferSpeedColumn(), transient=True)
            progress.start()
            state["progress"] = progress
            state["task"] = progress.add_task(description, total=total, completed=int(state.get("pending", 0)))
        state["progress"].advance(state["task"], n)  # type: ignore[union-attr]

    try:
        yield advance
    finally:
        if "progress" in state:
            state["progress"].stop()  # type: ignore[union-attr]
