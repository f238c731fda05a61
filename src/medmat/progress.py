"""Rich progress bars, shared so every long step looks the same (and is quiet in tests)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def _enabled() -> bool:
    # Under `accelerate launch` / torchrun every process runs the same command: only rank 0
    # draws, or the bars of all ranks interleave on one terminal.
    rank = os.environ.get("RANK") or os.environ.get("LOCAL_RANK") or "0"
    return rank == "0" and os.environ.get("MEDMAT_PROGRESS", "1") != "0"


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[callable]:
    """Yield ``advance(n=1, total=None)``; draws a bar, stays silent when disabled.

    ``total`` may be given late (a backend knows its step count only once it starts).
    """
    if not _enabled():
        yield lambda n=1, total=None: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    ) as prog:
        task = prog.add_task(description, total=total)

        def advance(n: int = 1, total: int | None = None) -> None:
            if total is not None:
                prog.update(task, total=total)
            prog.advance(task, n)

        yield advance
