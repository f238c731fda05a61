"""Predictions: what every backend returns for an item, whatever model it runs.

A classification item's prediction is a letter (``predicted``; None is "no answer", never a
letter) with optional per-option scores. A grounding item's prediction also carries boxes in
the canonical form of :mod:`medmat.qa.boxes` (normalised ``[x1, y1, x2, y2]`` in 0-1):
``answer_box`` the true box and ``box`` the predicted one (None: the reply had no readable box,
a miss that counts as IoU 0). Keeping the true box in the prediction lets every metric be
recomputed from ``predictions.parquet`` alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from medmat.io import write_parquet

Box = tuple[float, float, float, float]
GROUNDING_IOU = 0.5  # a grounding answer is "correct" at IoU >= 0.5 (the usual acc@0.5)


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two corner boxes (0 when they do not overlap)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class Prediction:
    """A backend's answer to one item. ``predicted`` is None for "no answer" (never a letter)."""

    item_id: int
    answer: str
    predicted: str | None
    n_options: int
    scores: tuple[float, ...] = ()
    box: Box | None = None
    answer_box: Box | None = None

    @property
    def correct(self) -> bool:
        if self.answer_box is not None:
            return self.box is not None and box_iou(self.box, self.answer_box) >= GROUNDING_IOU
        return self.predicted is not None and self.predicted == self.answer


PREDICTIONS_SCHEMA = pa.schema(
    [
        ("item_id", pa.int64()),
        ("answer", pa.string()),
        ("predicted", pa.string()),
        ("correct", pa.bool_()),
        ("n_options", pa.int32()),
        ("scores", pa.list_(pa.float32())),
    ]
)
# Written only when some prediction is a grounding answer (classification tables stay as they
# were, so their digests and every reader are unchanged).
BOX_FIELDS = (pa.field("box", pa.list_(pa.float64(), 4)),
              pa.field("answer_box", pa.list_(pa.float64(), 4)))


def predictions_to_table(preds: Sequence[Prediction]) -> pa.Table:
    columns = {
        "item_id": [p.item_id for p in preds],
        "answer": [p.answer for p in preds],
        "predicted": [p.predicted for p in preds],
        "correct": [p.correct for p in preds],
        "n_options": [p.n_options for p in preds],
        "scores": [list(p.scores) for p in preds],
    }
    schema = PREDICTIONS_SCHEMA
    if any(p.answer_box is not None for p in preds):
        columns["box"] = [list(p.box) if p.box is not None else None for p in preds]
        columns["answer_box"] = [list(p.answer_box) if p.answer_box is not None else None
                                 for p in preds]
        for field in BOX_FIELDS:
            schema = schema.append(field)
    return pa.table(columns, schema=schema)


def row_to_prediction(row: dict) -> Prediction:
    """A prediction from one row of a predictions table (boxes when the table has them)."""
    box, gold = row.get("box"), row.get("answer_box")
    return Prediction(row["item_id"], row["answer"], row["predicted"], row["n_options"],
                      tuple(row["scores"] or ()), tuple(box) if box is not None else None,
                      tuple(gold) if gold is not None else None)


def write_predictions(dest: str | Path, preds: Sequence[Prediction]) -> Path:
    return write_parquet(dest, predictions_to_table(preds))
