"""Grounding metrics over training seeds: cIoU, mIoU and acc@0.5 with two-level intervals.

The per-item statistics are those of :mod:`medmat.evaluate.boxes` (intersection, union, IoU,
hit at the threshold; a miss scores 0 and adds the gold box's area to the unions); the
resampling is the two-level bootstrap of :mod:`medmat.evaluate.seeds` (draw the training seeds,
then the test items, one item draw shared by every arm), applied to the four per-item columns
at once so cIoU is resampled as a ratio of sums, never averaged per item.

Point estimates are the same functionals on the data as drawn: cIoU is the sum of
intersections over the sum of unions over every seed and item (the mean per-seed sums' ratio),
mIoU and acc@0.5 the means over seeds of the per-seed values (``per_seed`` lists those values,
cIoU per seed included).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from medmat.errors import MedmatError
from medmat.evaluate._checks import check_bootstrap, check_confidence
from medmat.evaluate.boxes import METRICS, _metrics, _stats, intersections_unions
from medmat.evaluate.seeds import _interval, _method, replicate_sums
from medmat.predictions import GROUNDING_IOU, Prediction

Runs = Sequence[Sequence[Prediction]]


@dataclass(frozen=True)
class SeedBoxMetric:
    """One metric of one arm over training seeds."""

    metric: str
    estimate: float
    ci95: tuple[float, float]
    per_seed: tuple[float, ...]


@dataclass(frozen=True)
class SeedBoxMetrics:
    """cIoU, mIoU and acc@``threshold`` of one arm; ``n_miss`` counts replies without a box
    over every seed run (``miss_per_seed`` per run)."""

    metrics: dict[str, SeedBoxMetric]
    n_items: int
    n_seeds: int
    n_miss: int
    miss_per_seed: tuple[int, ...]
    method: str
    threshold: float
    confidence: float
    n_boot: int
    seed: int


@dataclass(frozen=True)
class SeedBoxDiff:
    """``metric(a) - metric(b)`` on the same test items over training seeds; ``p_value`` is the
    bootstrap two-sided guide of :class:`medmat.evaluate.SeedDiff`."""

    metric: str
    diff: float
    ci95: tuple[float, float]
    p_value: float
    se: float
    a: float
    b: float
    per_seed: tuple[float, ...]
    n_items: int
    n_seeds: int
    method: str
    confidence: float
    n_boot: int
    seed: int


def box_table(runs: Runs, *, item_ids: Sequence[int] | None = None,
              threshold: float = GROUNDING_IOU,
              what: str = "predictions") -> tuple[list[int], np.ndarray, np.ndarray, list[int]]:
    """(item ids, gold boxes (n, 4), a seeds x 4 x items table of per-item intersection, union,
    IoU and hit, misses per seed) from one grounding prediction list per training seed."""
    if not runs:
        raise MedmatError(f"{what}: no runs; give one list of predictions per seed")
    by_run = []
    for r, preds in enumerate(runs):
        if not preds:
            raise MedmatError(f"{what} (seed run {r}): no test items; nothing to evaluate")
        seen: dict[int, Prediction] = {}
        for p in preds:
            if p.answer_box is None:
                raise MedmatError(f"{what}: item {p.item_id} has no true box (answer_box); box "
                                  "metrics need grounding items only")
            if p.item_id in seen:
                raise MedmatError(f"{what}: item_id {p.item_id} is predicted twice in seed run "
                                  f"{r}; each test item must be scored once")
            seen[p.item_id] = p
        by_run.append(seen)
    ids = sorted(by_run[0]) if item_ids is None else list(item_ids)
    for r, b in enumerate(by_run):
        if sorted(b) != sorted(ids):
            raise MedmatError(f"{what}: seed run {r} answered other test items than expected; "
                              "every seed and arm must answer the same items")
    gold = np.array([by_run[0][i].answer_box for i in ids], dtype=float)
    for r, b in enumerate(by_run[1:], start=1):
        if not np.array_equal(gold, np.array([b[i].answer_box for i in ids], dtype=float)):
            raise MedmatError(f"{what}: seed run {r} has other true boxes than seed run 0; "
                              "score every run on the same items file")
    table, misses = [], []
    for b in by_run:
        pred = [b[i].box for i in ids]
        misses.append(sum(p is None for p in pred))
        table.append(_stats(*intersections_unions(pred, gold), threshold))
    return ids, gold, np.stack(table), misses


def _per_seed(table: np.ndarray) -> np.ndarray:
    """(seeds, 3) per-seed ciou, miou, acc50."""
    return _metrics(table.sum(axis=2), table.shape[2])


def _point(table: np.ndarray) -> np.ndarray:
    """The pooled functional: the metrics of the mean per-seed sums."""
    return _metrics(table.sum(axis=2).mean(axis=0), table.shape[2])


def _check(threshold: float, n_boot: int, seed: int, confidence: float) -> float:
    confidence = check_confidence(confidence)
    check_bootstrap(n_boot, seed)
    if not 0.0 < float(threshold) <= 1.0:
        raise MedmatError(f"threshold={threshold!r}: must be in (0, 1] (e.g. 0.5)")
    return confidence


def seed_box_metrics(runs: Runs, *, threshold: float = GROUNDING_IOU, n_boot: int = 2000,
                     seed: int = 0, confidence: float = 0.95,
                     what: str = "predictions") -> SeedBoxMetrics:
    """cIoU, mIoU and acc@0.5 of one arm with intervals over training seeds and test items."""
    confidence = _check(threshold, n_boot, seed, confidence)
    _, _, table, misses = box_table(runs, threshold=threshold, what=what)
    n_items = table.shape[2]
    boot = _metrics(replicate_sums([table], int(n_boot), int(seed))[0], n_items)
    point, per_seed = _point(table), _per_seed(table)
    metrics = {
        name: SeedBoxMetric(name, float(point[k]), _interval(boot[:, k], confidence),
                            tuple(float(v) for v in per_seed[:, k]))
        for k, name in enumerate(METRICS)
    }
    return SeedBoxMetrics(metrics=metrics, n_items=n_items, n_seeds=table.shape[0],
                          n_miss=sum(misses), miss_per_seed=tuple(misses),
                          method=_method(table.shape[0]), threshold=float(threshold),
                          confidence=confidence, n_boot=int(n_boot), seed=int(seed))


def seed_box_diff(runs_a: Runs, runs_b: Runs, *, threshold: float = GROUNDING_IOU,
                  n_boot: int = 2000, seed: int = 0, confidence: float = 0.95,
                  names: tuple[str, str] = ("arm A", "arm B")) -> dict[str, SeedBoxDiff]:
    """Arm a minus arm b for each of cIoU, mIoU, acc@0.5 (items drawn jointly for both arms,
    seeds independently per arm, as :func:`medmat.evaluate.seed_diff`)."""
    confidence = _check(threshold, n_boot, seed, confidence)
    ids, gold_a, ta, _ = box_table(runs_a, threshold=threshold, what=names[0])
    _, gold_b, tb, _ = box_table(runs_b, item_ids=ids, threshold=threshold, what=names[1])
    if not np.array_equal(gold_a, gold_b):
        raise MedmatError(f"cannot pair {names[0]} and {names[1]}: their true boxes differ; "
                          "score both arms on the same items file")
    if ta.shape[0] != tb.shape[0]:
        raise MedmatError(f"cannot pair {names[0]} ({ta.shape[0]} seeds) and {names[1]} "
                          f"({tb.shape[0]} seeds); both arms need the same seeds")
    n_items = ta.shape[2]
    sums_a, sums_b = replicate_sums([ta, tb], int(n_boot), int(seed))
    boot = _metrics(sums_a, n_items) - _metrics(sums_b, n_items)
    pa, pb = _point(ta), _point(tb)
    seed_a, seed_b = _per_seed(ta), _per_seed(tb)
    out = {}
    for k, name in enumerate(METRICS):
        diff = float(pa[k] - pb[k])
        if abs(diff) < 1e-12:
            p = 1.0
        else:
            p = 2.0 * float(np.mean(boot[:, k] <= 0) if diff > 0 else np.mean(boot[:, k] >= 0))
        out[name] = SeedBoxDiff(
            metric=name, diff=diff, ci95=_interval(boot[:, k], confidence), p_value=min(1.0, p),
            se=float(boot[:, k].std()), a=float(pa[k]), b=float(pb[k]),
            per_seed=tuple(float(x - y) for x, y in zip(seed_a[:, k], seed_b[:, k],
                                                         strict=True)),
            n_items=n_items, n_seeds=ta.shape[0], method=_method(ta.shape[0]),
            confidence=confidence, n_boot=int(n_boot), seed=int(seed))
    return out


def whole_image_ciou(gold: Sequence[Sequence[float]]) -> float:
    """cIoU of the trivial answer "the whole image" ``[0, 0, 1, 1]`` on every item: the
    baseline a grounding arm must beat (it equals the gold boxes' total area over the items)."""
    g = np.asarray(gold, dtype=float)
    inter, union = intersections_unions(np.tile([0.0, 0.0, 1.0, 1.0], (len(g), 1)), g)
    return float(inter.sum() / union.sum()) if union.sum() > 0 else 0.0
