"""Progress bars: drawn by one process only, and never when MEDMAT_PROGRESS=0."""

from __future__ import annotations

import pytest

from medmat import progress


@pytest.mark.parametrize(("env", "drawn"), [
    ({}, True),
    ({"MEDMAT_PROGRESS": "0"}, False),
    ({"RANK": "0", "LOCAL_RANK": "0"}, True),
    ({"RANK": "1", "LOCAL_RANK": "1"}, False),  # accelerate launch / torchrun: other ranks
    ({"LOCAL_RANK": "2"}, False),
    ({"RANK": "0", "MEDMAT_PROGRESS": "0"}, False),
])
def test_only_rank_zero_draws(monkeypatch, env, drawn):
    for name in ("MEDMAT_PROGRESS", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    made = []

    class Recorder:  # stands in for rich's Progress: records that a bar was started
        def __init__(self, *columns, **kwargs):
            made.append(self)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def add_task(self, description, total):
            return 0

        def advance(self, task, n):
            pass

    monkeypatch.setattr(progress, "Progress", Recorder)
    with progress.progress_bar("work", 3) as advance:
        advance()
    assert len(made) == int(drawn)
