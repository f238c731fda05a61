"""Input checks shared by the evaluation functions.

Statistics computed from malformed inputs look plausible and are wrong, so every public
function validates first and raises :class:`MedmatError` saying what to fix.
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence

import numpy as np

from medmat.errors import MedmatError
from medmat.records import Prediction

LETTERS = string.ascii_uppercase


def check_confidence(confidence: float) -> float:
    if not isinstance(confidence, (int, float)) or not 0.0 < float(confidence) < 1.0:
        raise MedmatError(
            f"confidence={confidence!r}: must be a number strictly between 0 and 1 (e.g. 0.95)"
        )
    return float(confidence)


def check_bootstrap(n_boot: int, seed: int) -> None:
    """Bootstrap settings: a positive replicate count and a fixed non-negative seed."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise MedmatError(f"n_boot={n_boot!r}: must be a positive integer (e.g. 2000)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        # None would draw fresh OS entropy and make the interval irreproducible.
        raise MedmatError(f"seed={seed!r}: must be a non-negative integer")


def check_predictions(preds: Sequence[Prediction], what: str, *, unique: bool = False) -> None:
    """Refuse empty lists, bad letters and (with ``unique``) an item predicted twice.

    Duplicates are allowed by default because predictions pooled over seeds repeat each
    test item once per seed; pairing (``align``) needs each item once.

    ``predicted`` must be None ("no answer") or one capital letter: an empty string or a raw
    model reply here means the answer parser was skipped, and silently scoring it would
    repeat the "empty prediction scored as A" bug of other toolkits.
    """
    if len(preds) == 0:
        raise MedmatError(f"{what}: no test items (empty prediction list); nothing to evaluate")
    seen: set[int] = set()
    for p in preds:
        if unique and p.item_id in seen:
            raise MedmatError(
                f"{what}: item_id {p.item_id} is predicted twice; each test item must be scored "
                "once (check that the test items were not duplicated)"
            )
        seen.add(p.item_id)
        if not isinstance(p.n_options, (int, np.integer)) or p.n_options < 1:
            raise MedmatError(f"{what}: item {p.item_id} has n_options={p.n_options!r}; need >= 1")
        if not (isinstance(p.answer, str) and len(p.answer) == 1
                and p.answer in LETTERS[: p.n_options]):
            raise MedmatError(
                f"{what}: item {p.item_id} has gold answer {p.answer!r}, which is not one of its "
                f"{p.n_options} option letters {LETTERS[: p.n_options]}"
            )
        if p.predicted is not None and not (
            isinstance(p.predicted, str) and len(p.predicted) == 1 and p.predicted in LETTERS
        ):
            raise MedmatError(
                f"{what}: item {p.item_id} has predicted={p.predicted!r}; a prediction must be one "
                "capital letter, or None for an empty/unparseable answer (run the answer parser)"
            )


def as_correct_array(values: Sequence[bool], name: str, max_ndim: int = 1) -> np.ndarray:
    """A bool array (1-D, or up to ``max_ndim``) from bools or 0/1 numbers."""
    try:
        arr = np.asarray(values)
    except ValueError:  # ragged nested lists
        raise MedmatError(f"{name}: rows of per-item booleans must have equal lengths") from None
    if not 1 <= arr.ndim <= max_ndim:
        shape = "a flat sequence" if max_ndim == 1 else "a flat sequence or a seeds x items table"
        raise MedmatError(f"{name}: expected {shape} of per-item booleans, got {arr.ndim}-D")
    if arr.dtype == bool:
        return arr
    if arr.size and (arr.dtype.kind not in "iuf" or not np.isin(arr, (0, 1)).all()):
        raise MedmatError(f"{name}: per-item correctness must be booleans (or 0/1)")
    return arr.astype(bool)


def check_finite(values: Sequence[float], name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise MedmatError(f"{name}: expected numbers, got {values!r}") from None
    if arr.ndim != 1:
        raise MedmatError(f"{name}: expected a flat sequence of numbers")
    bad = [v for v in arr.tolist() if not math.isfinite(v)]
    if bad:
        raise MedmatError(f"{name}: non-finite value(s) {bad[:3]}; every value must be a number")
    return arr
