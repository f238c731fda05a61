"""The backend interface: train on QA items, score QA items.

The experiment runner only talks to this interface, so statistics and reports do not care which
model produced the predictions. Backends import it from here, and :mod:`medmat.train.backend`
(the name -> backend registry) imports the backends lazily, so neither depends on the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from medmat.records import Prediction, QAItem

# progress(done, total) callback; backends call it as work proceeds
ProgressFn = Callable[[int, int], None]


@runtime_checkable
class Backend(Protocol):
    """What a model backend must do.

    ``fit`` trains on ``items`` (images resolved under ``image_root``) and keeps its checkpoints
    in ``work_dir``: if ``work_dir`` already holds a finished model it must return without
    retraining, and if it holds a partial checkpoint it must resume from it. Same seed, same
    inputs -> same weights on CPU.

    ``score`` answers items and returns one :class:`Prediction` per item, in order.
    """

    name: str

    def fit(
        self,
        items: Sequence[QAItem],
        image_root: Path,
        work_dir: Path,
        *,
        seed: int,
        progress: ProgressFn | None = None,
    ) -> None: ...

    def score(
        self,
        items: Sequence[QAItem],
        image_root: Path,
        *,
        progress: ProgressFn | None = None,
    ) -> list[Prediction]: ...
