from __future__ import annotations

import pytest

from medmat.records import Prediction


def _make(answers: str, predicted: list[str | None] | str, n_options: int | list[int] = 4,
          start: int = 0) -> list[Prediction]:
    """Predictions for items ``start..``; ``answers``/``predicted`` are strings of letters
    (or a list with None for "no answer")."""
    opts = [n_options] * len(answers) if isinstance(n_options, int) else n_options
    assert len(answers) == len(predicted) == len(opts)
    return [Prediction(item_id=start + i, answer=a, predicted=p, n_options=k)
            for i, (a, p, k) in enumerate(zip(answers, predicted, opts, strict=True))]


@pytest.fixture
def make_preds():
    return _make
