"""The backend interface: train on QA items, score QA items.

Two implementations: ``builtin`` (a small PyTorch model that trains on CPU in seconds) and
``hf`` (Hugging Face multimodal LLMs with LoRA). The experiment runner only talks to this
interface, so statistics and reports do not care which model produced the predictions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from medmat.errors import MedmatError
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


def make_backend(name: str, options: dict[str, Any] | None = None) -> Backend:
    """Instantiate a backend by name with its options (from the experiment config)."""
    options = dict(options or {})
    if name == "builtin":
        from medmat.train.builtin import BuiltinBackend

        return BuiltinBackend(**options)
    if name == "hf":
        try:
            from medmat.train.hf import HFBackend
        except ImportError as exc:
            raise MedmatError(
                f"backend 'hf' needs the optional extra: pip install 'medmat[hf]' ({exc})"
            ) from None
        return HFBackend(**options)
    raise MedmatError(f"unknown backend {name!r}; choose 'builtin' or 'hf'")
