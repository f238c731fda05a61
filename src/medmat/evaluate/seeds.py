"""Intervals that include training-seed variance: a two-level bootstrap over seeds and items.

An arm trained with several seeds is scored on the same test items every time. Its accuracy
varies for two reasons: which test items were drawn (item variance) and how training went
(seed variance: initialisation, data order). Resampling the items alone, as
:func:`medmat.evaluate.accuracy_over_seeds` does, ignores the second: with the data fixed, one
arm's accuracy ranged from 26% to 50% across training seeds while its item-only interval was
[36.5, 46.8].

Each replicate here first draws the training seeds with replacement, then the test items with
replacement (one draw shared by every seed, because the runs share their test items), and takes
the mean correctness over the drawn seeds x drawn items. The percentile interval of the
replicates covers both sources. It is conservative for crossed designs (the seed x item
interaction enters both levels), which is the safe side for a CG verdict. With one seed there
is no seed variance to resample: the interval is an item bootstrap and ``method`` says that it
covers test-item variance only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from medmat.errors import MedmatError
from medmat.evaluate._checks import (
    as_correct_array,
    check_bootstrap,
    check_confidence,
    check_predictions,
)
from medmat.records import Prediction

# replicates per chunk: bounds the (replicates x items) weight matrices in memory
_CHUNK = 256
TWO_LEVEL = "two-level bootstrap over {s} training seeds, then test items"
ITEM_ONLY = ("item bootstrap, 1 training seed: the interval covers test-item variance only, "
             "not training-seed variance")


@dataclass(frozen=True)
class SeedAccuracy:
    """Accuracy of one arm over training seeds.

    ``estimate`` is the mean of the per-seed accuracies ``per_seed`` (seed order as given),
    ``ci95`` the percentile interval at ``confidence``, ``method`` says what it covers.
    ``chance`` is the mean of 1/n_options when built from predictions (None from raw arrays).
    """

    estimate: float
    ci95: tuple[float, float]
    per_seed: tuple[float, ...]
    n_seeds: int
    n_items: int
    method: str
    confidence: float = 0.95
    n_boot: int = 2000
    seed: int = 0
    chance: float | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ci95"], d["per_seed"] = list(self.ci95), list(self.per_seed)
        return d


@dataclass(frozen=True)
class SeedDiff:
    """Accuracy difference ``a - b`` of two arms on the same test items, over training seeds.

    ``per_seed`` holds the per-seed differences (seed i of a minus seed i of b), ``per_seed_a``
    and ``per_seed_b`` the accuracies. ``p_value`` is the bootstrap two-sided guide of
    :class:`medmat.evaluate.DiffResult` (resolved to 2/n_boot; 1.0 for a zero difference).
    """

    estimate: float
    ci95: tuple[float, float]
    per_seed: tuple[float, ...]
    per_seed_a: tuple[float, ...]
    per_seed_b: tuple[float, ...]
    acc_a: float
    acc_b: float
    n_seeds: int
    n_items: int
    method: str
    se: float
    p_value: float
    confidence: float = 0.95
    n_boot: int = 2000
    seed: int = 0

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("ci95", "per_seed", "per_seed_a", "per_seed_b"):
            d[key] = list(d[key])
        return d


def _table(correct: Sequence, name: str) -> np.ndarray:
    """A seeds x items float table; a flat sequence is one seed."""
    arr = np.atleast_2d(as_correct_array(correct, name, max_ndim=2)).astype(np.float64)
    if arr.size == 0:
        raise MedmatError(f"{name}: no test items")
    return arr


def _weights(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """Bootstrap counts: how often each of ``n`` units is drawn, per replicate (rows x n)."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=rows).astype(np.float64)


def replicate_sums(tables: Sequence[np.ndarray], n_boot: int, seed: int) -> list[np.ndarray]:
    """Two-level bootstrap sums: for each ``(seeds, k, items)`` table, its ``(n_boot, k)``
    replicates of sum over drawn items of the mean over drawn seeds, column by column.

    Seeds are drawn independently per table (a seed number shared by two arms is no pairing:
    they train on different data); items are drawn once per replicate for all tables (the arms
    answer the same items). With one seed the seed draw is the identity. The ``k`` columns of
    a table share its draws, so a ratio of two columns (cIoU: intersections over unions) is
    resampled as one statistic.
    """
    rng = np.random.default_rng(seed)
    n_items = tables[0].shape[-1]
    outs = [np.empty((n_boot, t.shape[1])) for t in tables]
    for lo in range(0, n_boot, _CHUNK):
        rows = min(_CHUNK, n_boot - lo)
        items = _weights(rng, rows, n_items)
        for table, out in zip(tables, outs, strict=True):
            n_seeds = table.shape[0]
            seeds = None if n_seeds == 1 else _weights(rng, rows, n_seeds)
            for k in range(table.shape[1]):
                if seeds is None:
                    per_item = np.broadcast_to(table[0, k], (rows, n_items))
                else:
                    per_item = seeds @ table[:, k, :] / n_seeds
                out[lo:lo + rows, k] = np.einsum("ri,ri->r", per_item, items)
    return outs


def _replicates(tables: Sequence[np.ndarray], signs: Sequence[float], n_boot: int,
                seed: int) -> np.ndarray:
    """Bootstrap replicates of sum_k sign_k * mean(table_k over drawn seeds x drawn items)
    (seeds x items tables; the draws of :func:`replicate_sums`)."""
    n_items = tables[0].shape[1]
    sums = replicate_sums([t[:, None, :] for t in tables], n_boot, seed)
    total = np.zeros(n_boot)
    for s, sign in zip(sums, signs, strict=True):
        total += sign * s[:, 0] / n_items
    return total


def _interval(boot: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _method(n_seeds: int) -> str:
    return ITEM_ONLY if n_seeds == 1 else TWO_LEVEL.format(s=n_seeds)


def two_level_accuracy(correct: Sequence, *, n_boot: int = 2000, seed: int = 0,
                       confidence: float = 0.95, chance: float | None = None) -> SeedAccuracy:
    """Accuracy over training seeds from a seeds x items table of per-item correctness.

    Row s holds seed s's correctness on the test items, in the same item order in every row
    (use :func:`correct_table` to build it from predictions). A flat sequence is one seed.
    """
    confidence = check_confidence(confidence)
    check_bootstrap(n_boot, seed)
    table = _table(correct, "correct")
    boot = _replicates([table], [1.0], int(n_boot), int(seed))
    per_seed = tuple(float(v) for v in table.mean(axis=1))
    return SeedAccuracy(
        estimate=math.fsum(per_seed) / len(per_seed), ci95=_interval(boot, confidence),
        per_seed=per_seed, n_seeds=table.shape[0], n_items=table.shape[1],
        method=_method(table.shape[0]), confidence=confidence, n_boot=int(n_boot),
        seed=int(seed), chance=chance,
    )


def two_level_diff(correct_a: Sequence, correct_b: Sequence, *, n_boot: int = 2000,
                   seed: int = 0, confidence: float = 0.95) -> SeedDiff:
    """Paired difference ``a - b`` over training seeds: seeds x items tables of both arms.

    Both tables list the same test items in the same column order and the same number of seeds
    (the runner trains every arm with the same seed list).
    """
    confidence = check_confidence(confidence)
    check_bootstrap(n_boot, seed)
    a, b = _table(correct_a, "correct_a"), _table(correct_b, "correct_b")
    if a.shape != b.shape:
        raise MedmatError(
            f"two_level_diff: arm a is {a.shape[0]} seeds x {a.shape[1]} items, arm b "
            f"{b.shape[0]} x {b.shape[1]}; both arms need the same seeds and the same test items "
            "(use medmat.evaluate.correct_table with the same item order)"
        )
    boot = _replicates([a, b], [1.0, -1.0], int(n_boot), int(seed))
    pa = tuple(float(v) for v in a.mean(axis=1))
    pb = tuple(float(v) for v in b.mean(axis=1))
    acc_a, acc_b = math.fsum(pa) / len(pa), math.fsum(pb) / len(pb)
    diff = acc_a - acc_b
    if abs(diff) < 1e-12:
        p = 1.0
    else:
        p = 2.0 * float(np.mean(boot <= 0) if diff > 0 else np.mean(boot >= 0))
    return SeedDiff(
        estimate=diff, ci95=_interval(boot, confidence),
        per_seed=tuple(x - y for x, y in zip(pa, pb, strict=True)), per_seed_a=pa, per_seed_b=pb,
        acc_a=acc_a, acc_b=acc_b, n_seeds=a.shape[0], n_items=a.shape[1],
        method=_method(a.shape[0]), se=float(boot.std()), p_value=min(1.0, p),
        confidence=confidence, n_boot=int(n_boot), seed=int(seed),
    )


@dataclass(frozen=True)
class SeedContrast:
    """A signed sum of arm accuracies on the same test items, over training seeds: e.g. the
    difference of two CG gains, ``(related_B - unrelated_B) - (related_A - unrelated_A)``.

    ``per_seed`` holds the contrast per seed (seed i of every table), ``p_value`` the two-sided
    bootstrap guide of :class:`SeedDiff`."""

    estimate: float
    ci95: tuple[float, float]
    per_seed: tuple[float, ...]
    n_seeds: int
    n_items: int
    method: str
    p_value: float
    confidence: float = 0.95
    n_boot: int = 2000
    seed: int = 0


def two_level_contrast(tables: Sequence, signs: Sequence[float], *, n_boot: int = 2000,
                       seed: int = 0, confidence: float = 0.95) -> SeedContrast:
    """``sum_k signs[k] * accuracy(tables[k])`` with the two-level bootstrap of
    :func:`two_level_diff` (seeds drawn per table, items drawn once for all tables): seeds x
    items tables over the same test items in the same column order."""
    confidence = check_confidence(confidence)
    check_bootstrap(n_boot, seed)
    if len(tables) != len(signs) or not tables:
        raise MedmatError(f"two_level_contrast: {len(tables)} table(s) for {len(signs)} sign(s); "
                          "give one sign per table")
    arrays = [_table(t, f"tables[{k}]") for k, t in enumerate(tables)]
    if len({a.shape for a in arrays}) != 1:
        raise MedmatError(f"two_level_contrast: tables of shapes {[a.shape for a in arrays]}; "
                          "every table needs the same seeds and the same test items")
    boot = _replicates(arrays, signs, int(n_boot), int(seed))
    per_seed = tuple(math.fsum(sg * float(a[s].mean()) for a, sg in zip(arrays, signs,
                                                                          strict=True))
                     for s in range(arrays[0].shape[0]))
    estimate = math.fsum(per_seed) / len(per_seed)
    if abs(estimate) < 1e-12:
        p = 1.0
    else:
        p = 2.0 * float(np.mean(boot <= 0) if estimate > 0 else np.mean(boot >= 0))
    return SeedContrast(estimate=estimate, ci95=_interval(boot, confidence), per_seed=per_seed,
                        n_seeds=arrays[0].shape[0], n_items=arrays[0].shape[1],
                        method=_method(arrays[0].shape[0]), p_value=min(1.0, p),
                        confidence=confidence, n_boot=int(n_boot), seed=int(seed))


def correct_table(runs: Sequence[Sequence[Prediction]], *, item_ids: Sequence[int] | None = None,
                  what: str = "predictions") -> tuple[list[int], np.ndarray]:
    """(item ids, seeds x items bool table) from one prediction list per seed.

    Every run must answer the same items once; ``item_ids`` fixes the column order (so two
    arms' tables line up), by default the sorted ids.
    """
    if not runs:
        raise MedmatError(f"{what}: no runs; give one list of predictions per seed")
    by_run = []
    for r, preds in enumerate(runs):
        check_predictions(preds, f"{what} (seed run {r})", unique=True)
        by_run.append({p.item_id: p for p in preds})
    ids = sorted(by_run[0]) if item_ids is None else list(item_ids)
    for r, b in enumerate(by_run):
        if sorted(b) != sorted(ids):
            raise MedmatError(f"{what}: seed run {r} answered other test items than expected; "
                              "every seed and arm must answer the same items")
    return ids, np.array([[b[i].correct for i in ids] for b in by_run], dtype=bool)


def seed_accuracy(runs: Sequence[Sequence[Prediction]], *, n_boot: int = 2000, seed: int = 0,
                  confidence: float = 0.95, what: str = "predictions") -> SeedAccuracy:
    """:func:`two_level_accuracy` from one prediction list per training seed (with chance)."""
    ids, table = correct_table(runs, what=what)
    first = {p.item_id: p for p in runs[0]}
    chance = math.fsum(1.0 / first[i].n_options for i in ids) / len(ids)
    return two_level_accuracy(table, n_boot=n_boot, seed=seed, confidence=confidence,
                              chance=chance)


def seed_diff(runs_a: Sequence[Sequence[Prediction]], runs_b: Sequence[Sequence[Prediction]], *,
              n_boot: int = 2000, seed: int = 0, confidence: float = 0.95,
              names: tuple[str, str] = ("arm A", "arm B")) -> SeedDiff:
    """:func:`two_level_diff` from one prediction list per seed for each arm.

    The arms must answer the same items with the same gold answers (checked).
    """
    ids, a = correct_table(runs_a, what=names[0])
    _, b = correct_table(runs_b, item_ids=ids, what=names[1])
    gold_a = {p.item_id: p.answer for p in runs_a[0]}
    for p in runs_b[0]:
        if gold_a[p.item_id] != p.answer:
            raise MedmatError(
                f"cannot pair {names[0]} and {names[1]}: item {p.item_id} has gold answer "
                f"{gold_a[p.item_id]!r} in one and {p.answer!r} in the other; score both arms on "
                "the same items file"
            )
    return two_level_diff(a, b, n_boot=n_boot, seed=seed, confidence=confidence)
