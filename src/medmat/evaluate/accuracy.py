"""Accuracy with a Wilson score interval, and mean ± sd over seeds.

Wilson rather than the normal ("Wald") interval because target subsets can be small and
accuracies near 0 or 1, where Wald collapses to zero width or leaves [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from medmat.errors import MedmatError
from medmat.evaluate._checks import check_confidence, check_finite, check_predictions
from medmat.evaluate.stats import wilson_interval
from medmat.records import Prediction


@dataclass(frozen=True)
class AccuracyResult:
    """Accuracy of one arm on one target.

    ``ci95`` is the Wilson interval at ``confidence`` (0.95 unless asked otherwise).
    ``no_answer`` items (``predicted is None``) are counted in ``n`` and scored wrong.
    ``chance`` is the mean of 1/n_options: the accuracy of uniform random guessing.
    Over several seeds (:func:`accuracy_over_seeds`) ``n`` counts test items, ``n_correct`` and
    ``no_answer`` count over all ``n_seeds`` runs, and ``ci95`` is an item bootstrap.
    """

    accuracy: float
    ci95: tuple[float, float]
    n: int
    n_correct: int
    no_answer: int
    chance: float
    confidence: float = 0.95
    n_seeds: int = 1
    ci_method: str = "wilson"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ci95"] = list(self.ci95)
        return d


def accuracy(preds: Sequence[Prediction], *, confidence: float = 0.95,
             what: str = "predictions") -> AccuracyResult:
    """Accuracy, Wilson interval, no-answer count and chance level of ``preds``.

    An empty list raises MedmatError ("no test items"), naming ``what``.
    """
    confidence = check_confidence(confidence)
    check_predictions(preds, what)
    n = len(preds)
    n_correct = sum(1 for p in preds if p.correct)
    return AccuracyResult(
        accuracy=n_correct / n,
        ci95=wilson_interval(n_correct, n, confidence, what=what),
        n=n,
        n_correct=n_correct,
        no_answer=sum(1 for p in preds if p.predicted is None),
        chance=math.fsum(1.0 / p.n_options for p in preds) / n,
        confidence=confidence,
    )


def seed_summary(values: Sequence[float]) -> dict:
    """Mean ± sample sd (ddof=1) of one metric over seeds, with n, min and max.

    A single value gives sd 0.0 (no spread observed) rather than NaN, so tables stay numeric;
    ``n`` says how much the sd is worth.
    """
    arr = check_finite(values, "seed_summary")
    if arr.size == 0:
        raise MedmatError("seed_summary: no values; give one value per seed")
    mean = math.fsum(arr.tolist()) / arr.size
    sd = 0.0 if arr.size == 1 else math.sqrt(
        math.fsum((v - mean) ** 2 for v in arr.tolist()) / (arr.size - 1)
    )
    return {"mean": mean, "sd": sd, "n": int(arr.size),
            "min": float(arr.min()), "max": float(arr.max())}


def accuracy_over_seeds(runs: Sequence[Sequence[Prediction]], *, n_boot: int = 2000,
                        seed: int = 0, confidence: float = 0.95,
                        what: str = "predictions") -> AccuracyResult:
    """Accuracy of one arm trained with several seeds on the same test items.

    Pooling the runs into one Wilson interval would count every (seed, item) pair as an
    independent observation and make the interval too narrow: the seeds share their test items.
    Here each item's correctness is averaged over seeds and the *items* are resampled (percentile
    bootstrap, ``n_boot`` draws, seeded). One run falls back to :func:`accuracy` (Wilson).
    """
    if len(runs) == 1:
        return accuracy(runs[0], confidence=confidence, what=what)
    confidence = check_confidence(confidence)
    if not runs:
        raise MedmatError(f"{what}: no runs; give one list of predictions per seed")
    by_run = []
    for r, preds in enumerate(runs):
        check_predictions(preds, f"{what} (seed run {r})")
        by_run.append({p.item_id: p for p in preds})
    ids = sorted(by_run[0])
    if any(sorted(b) != ids for b in by_run[1:]):
        raise MedmatError(f"{what}: the seed runs were scored on different test items; "
                          "every seed must answer the same items")
    correct = np.array([[b[i].correct for i in ids] for b in by_run], dtype=np.float64)
    per_item = correct.mean(axis=0)
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for lo in range(0, n_boot, 256):  # chunks bound memory at 256 x n_items
        idx = rng.integers(0, len(ids), size=(min(256, n_boot - lo), len(ids)))
        boots[lo:lo + len(idx)] = per_item[idx].mean(axis=1)
    alpha = 1.0 - confidence
    low, high = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    first = by_run[0]
    return AccuracyResult(
        accuracy=float(per_item.mean()),
        ci95=(float(low), float(high)),
        n=len(ids),
        n_correct=int(correct.sum()),
        no_answer=sum(1 for b in by_run for p in b.values() if p.predicted is None),
        chance=math.fsum(1.0 / first[i].n_options for i in ids) / len(ids),
        confidence=confidence,
        n_seeds=len(runs),
        ci_method=f"item bootstrap over {len(runs)} seeds",
    )
