"""Paired comparisons of two arms scored on the same test items.

Two arms evaluated on the same items are correlated (an easy item is easy for both), so the
interval for their difference must resample *items*, keeping each item's pair of outcomes
together. An unpaired interval would be far too wide and a per-arm interval overlap test
would be wrong in both directions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import binomtest

from medmat.errors import MedmatError
from medmat.evaluate._checks import (
    as_correct_array,
    check_bootstrap,
    check_confidence,
    check_predictions,
)
from medmat.records import Prediction

# Indices drawn per chunk (uint32: 16 MiB) to bound memory on large test sets. Chunks are
# consecutive draws from one generator, so the result does not depend on the chunk size.
_CHUNK_ELEMENTS = 1 << 22


def align(preds_a: Sequence[Prediction], preds_b: Sequence[Prediction], *,
          names: tuple[str, str] = ("arm A", "arm B")) -> tuple[list[bool], list[bool]]:
    """Per-item correctness of two arms, paired by ``item_id`` and ordered by it.

    The two arms must cover exactly the same items with the same gold answers; otherwise
    they were not scored on the same test set and a paired comparison would be meaningless.
    """
    name_a, name_b = names
    check_predictions(preds_a, name_a, unique=True)
    check_predictions(preds_b, name_b, unique=True)
    by_a = {p.item_id: p for p in preds_a}
    by_b = {p.item_id: p for p in preds_b}
    if by_a.keys() != by_b.keys():
        only_a = sorted(by_a.keys() - by_b.keys())
        only_b = sorted(by_b.keys() - by_a.keys())
        raise MedmatError(
            f"cannot pair {name_a} and {name_b}: their test items differ "
            f"({len(only_a)} only in {name_a}, e.g. {only_a[:5]}; "
            f"{len(only_b)} only in {name_b}, e.g. {only_b[:5]}); "
            "evaluate both arms on the same test items"
        )
    ids = sorted(by_a)
    for i in ids:
        if by_a[i].answer != by_b[i].answer:
            raise MedmatError(
                f"cannot pair {name_a} and {name_b}: item {i} has gold answer "
                f"{by_a[i].answer!r} in one and {by_b[i].answer!r} in the other; the arms were "
                "scored on differently shuffled items (rebuild both from the same items file)"
            )
    return [by_a[i].correct for i in ids], [by_b[i].correct for i in ids]


def _paired_arrays(correct_a: Sequence[bool], correct_b: Sequence[bool], max_ndim: int = 1
                   ) -> tuple[np.ndarray, np.ndarray]:
    a = as_correct_array(correct_a, "correct_a", max_ndim)
    b = as_correct_array(correct_b, "correct_b", max_ndim)
    if a.shape != b.shape:
        raise MedmatError(
            f"paired comparison: correct_a has shape {a.shape} (items) and correct_b {b.shape}; "
            "both must list the same test items in the same order (use medmat.evaluate.align)"
        )
    if a.size == 0:
        raise MedmatError("paired comparison: no test items")
    return a, b


@dataclass(frozen=True)
class DiffResult:
    """Accuracy difference ``acc_a - acc_b`` on paired items, with a bootstrap interval.

    ``ci95`` is the percentile interval at ``confidence``; ``se`` the sd of the bootstrap
    differences; ``n`` the number of test items and ``n_seeds`` the rows per item.
    ``p_value`` is two-sided and bootstrap-based: twice the share of bootstrap differences
    at or beyond 0 on the side opposite the observed difference, capped at 1 (1.0 when the
    difference is 0). It is a rough guide, resolved only to 2/n_boot: 0.0 means
    "below that", not zero; use :func:`mcnemar` for an exact test.
    """

    diff: float
    ci95: tuple[float, float]
    p_value: float
    se: float
    n: int
    acc_a: float
    acc_b: float
    n_boot: int
    seed: int
    confidence: float = 0.95
    n_seeds: int = 1

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ci95"] = list(self.ci95)
        return d


def paired_bootstrap_diff(correct_a: Sequence[bool], correct_b: Sequence[bool], *,
                          n_boot: int = 2000, seed: int = 0,
                          confidence: float = 0.95) -> DiffResult:
    """Paired bootstrap of the accuracy difference a - b.

    Each replicate draws n item indices with replacement and applies the *same* indices to
    both arms, i.e. resamples the per-item differences d_i = a_i - b_i (values -1, 0, 1).
    Deterministic for a given ``seed``.

    With several training seeds evaluated on the same test items, pass 2-D inputs of shape
    (seeds, items): items are resampled as whole columns, so an item's results under every
    seed stay together and the interval is not narrowed by counting one item once per seed.
    """
    confidence = check_confidence(confidence)
    check_bootstrap(n_boot, seed)
    a, b = _paired_arrays(correct_a, correct_b, max_ndim=2)
    a2, b2 = np.atleast_2d(a), np.atleast_2d(b)
    n_seeds, n = (int(x) for x in a2.shape)
    # per-item sum over seeds of (a - b): integers in [-n_seeds, n_seeds]
    d = (a2.astype(np.int32) - b2.astype(np.int32)).sum(axis=0, dtype=np.int32)
    total = n * n_seeds
    rng = np.random.default_rng(seed)
    rows = max(1, _CHUNK_ELEMENTS // n)
    sums = np.empty(int(n_boot), dtype=np.int64)
    for lo in range(0, int(n_boot), rows):
        hi = min(int(n_boot), lo + rows)
        idx = rng.integers(0, n, size=(hi - lo, n), dtype=np.uint32)
        sums[lo:hi] = d[idx].sum(axis=1, dtype=np.int64)
    # Integer sums / total: exact for the degenerate cases (all-equal arms give exactly 0 or 1).
    boot = sums / total
    diff = int(d.sum()) / total
    alpha = 1.0 - confidence
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    if diff > 0:
        p = 2.0 * float(np.mean(boot <= 0))
    elif diff < 0:
        p = 2.0 * float(np.mean(boot >= 0))
    else:
        p = 1.0
    return DiffResult(
        diff=diff, ci95=(float(low), float(high)), p_value=min(1.0, p),
        se=float(boot.std()), n=n,
        acc_a=int(a.sum()) / total, acc_b=int(b.sum()) / total,
        n_boot=int(n_boot), seed=int(seed), confidence=confidence, n_seeds=n_seeds,
    )


def mcnemar(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> dict:
    """Exact (binomial) McNemar test on paired per-item correctness.

    Only discordant items carry information: ``a_only`` (a right, b wrong) and ``b_only``.
    Under no difference each discordant item is a fair coin, so the two-sided p-value is the
    exact binomial test of a_only out of a_only + b_only at 0.5 (1.0 with no discordant items).
    """
    a, b = _paired_arrays(correct_a, correct_b)
    a_only = int(np.sum(a & ~b))
    b_only = int(np.sum(~a & b))
    discordant = a_only + b_only
    p = 1.0 if discordant == 0 else float(binomtest(a_only, discordant, 0.5).pvalue)
    return {
        "n": int(a.size),
        "both": int(np.sum(a & b)),
        "neither": int(np.sum(~a & ~b)),
        "a_only": a_only,
        "b_only": b_only,
        "p_value": min(1.0, p),
    }
