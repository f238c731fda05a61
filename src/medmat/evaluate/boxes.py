"""Grounding metrics: per-item IoU, cIoU, mean IoU and accuracy at IoU >= 0.5, with intervals.

* **IoU** of one item: area(pred ∩ gold) / area(pred ∪ gold); 0 when the union has no area
  (two zero-area boxes), so a degenerate answer never scores.
* **cIoU** (the Med-MAT study's metric, as in referring-segmentation work): the sum of
  intersections over the sum of unions across the test items. It weighs large objects more than
  mean IoU does. Boxes should be in normalised units (:mod:`medmat.qa.boxes`' canonical form),
  so each object weighs by its share of its own image, not by its image's pixel count.
* **mIoU**: the mean of per-item IoU; **acc@0.5**: the share of items with IoU >= 0.5.
* A **miss** (a reply with no box, ``None``, or a row of NaN) scores IoU 0, adds nothing to the
  intersections and the gold box's area to the unions (an empty prediction), and is counted.

Intervals are percentile bootstraps over items (seeded, so reproducible); cIoU is re-computed as
a ratio of resampled sums, never averaged per item. :func:`paired_box_diff` compares two arms on
the same items with the same resampled indices for both, as :mod:`medmat.evaluate.paired` does
for accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from medmat.errors import MedmatError
from medmat.evaluate._checks import check_bootstrap, check_confidence

METRICS = ("ciou", "miou", "acc50")
# Indices drawn per chunk, bounding memory on large test sets; chunks are consecutive draws
# from one generator, so results do not depend on the chunk size.
_CHUNK_ELEMENTS = 1 << 20

BoxesLike = np.ndarray | Sequence[Sequence[float] | None]


def as_boxes(boxes: BoxesLike, name: str, *, allow_missing: bool) -> np.ndarray:
    """A float (n, 4) array ``x1, y1, x2, y2``; misses (None) become rows of NaN."""
    if isinstance(boxes, np.ndarray):
        arr = boxes.astype(float, copy=False)
    else:
        rows = [(np.nan,) * 4 if b is None else b for b in boxes]
        try:
            arr = np.asarray(rows, dtype=float)
        except (TypeError, ValueError):
            raise MedmatError(f"{name}: every box must be four numbers x1, y1, x2, y2 "
                              "(or None for a miss)") from None
    if len(arr) == 0:
        raise MedmatError(f"{name}: no test items; nothing to evaluate")
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise MedmatError(f"{name}: expected n boxes of four numbers, got shape {arr.shape}")
    miss = np.isnan(arr).all(axis=1)
    if miss.any() and not allow_missing:
        raise MedmatError(f"{name}: item {int(np.argmax(miss))} has no box; every gold item "
                          "needs a box")
    bad = ~miss & ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise MedmatError(f"{name}: item {int(np.argmax(bad))} has a non-finite coordinate "
                          f"{arr[np.argmax(bad)].tolist()}")
    swapped = ~miss & ((arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1]))
    if swapped.any():
        raise MedmatError(f"{name}: item {int(np.argmax(swapped))} has x2 < x1 or y2 < y1 "
                          f"({arr[np.argmax(swapped)].tolist()}); order corners first "
                          "(medmat.qa.boxes.canonical)")
    return arr


def _overlaps(pred: BoxesLike, gold: BoxesLike) -> tuple[np.ndarray, np.ndarray, int]:
    g = as_boxes(gold, "gold boxes", allow_missing=False)
    p = as_boxes(pred, "predicted boxes", allow_missing=True)
    if p.shape != g.shape:
        raise MedmatError(f"predicted boxes: {len(p)} items but {len(g)} gold boxes; both must "
                          "list the same test items in the same order")
    miss = np.isnan(p[:, 0])
    p = np.where(miss[:, None], 0.0, p)  # an empty box at the origin: area 0, overlap 0
    iw = np.clip(np.minimum(p[:, 2], g[:, 2]) - np.maximum(p[:, 0], g[:, 0]), 0.0, None)
    ih = np.clip(np.minimum(p[:, 3], g[:, 3]) - np.maximum(p[:, 1], g[:, 1]), 0.0, None)
    inter = np.where(miss, 0.0, iw * ih)
    area_p = (p[:, 2] - p[:, 0]) * (p[:, 3] - p[:, 1])
    area_g = (g[:, 2] - g[:, 0]) * (g[:, 3] - g[:, 1])
    return inter, area_p + area_g - inter, int(miss.sum())


def intersections_unions(pred: BoxesLike, gold: BoxesLike) -> tuple[np.ndarray, np.ndarray]:
    """Per-item intersection and union areas; a missed item has 0 and the gold box's area."""
    inter, union, _ = _overlaps(pred, gold)
    return inter, union


def _ratio(inter: np.ndarray, union: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def iou(pred: BoxesLike, gold: BoxesLike) -> np.ndarray:
    """Per-item IoU (0 for misses and for zero-area unions)."""
    return _ratio(*intersections_unions(pred, gold))


@dataclass(frozen=True)
class BoxMetrics:
    """cIoU, mIoU and acc@``threshold`` of one arm, each with a bootstrap interval."""

    n: int
    n_miss: int
    ciou: float
    ciou_ci95: tuple[float, float]
    miou: float
    miou_ci95: tuple[float, float]
    acc50: float
    acc50_ci95: tuple[float, float]
    threshold: float
    n_boot: int
    seed: int
    confidence: float

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("ciou_ci95", "miou_ci95", "acc50_ci95"):
            d[k] = list(d[k])
        return d


@dataclass(frozen=True)
class BoxDiff:
    """``metric(a) - metric(b)`` on the same items, with a paired bootstrap interval.

    ``p_value`` is bootstrap-based as in :class:`medmat.evaluate.paired.DiffResult`: twice the
    share of replicates at or beyond 0 opposite the observed difference (1.0 when it is 0).
    """

    metric: str
    diff: float
    ci95: tuple[float, float]
    p_value: float
    a: float
    b: float
    n: int
    n_boot: int
    seed: int
    confidence: float

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ci95"] = list(self.ci95)
        return d


def _stats(inter: np.ndarray, union: np.ndarray, threshold: float) -> np.ndarray:
    """(4, n) per-item columns whose sums give the metrics: inter, union, IoU, hit."""
    per = _ratio(inter, union)
    return np.stack([inter, union, per, (per >= threshold).astype(float)])


def _metrics(sums: np.ndarray, n: int) -> np.ndarray:
    """(…, 4) resampled sums -> (…, 3) metrics ciou, miou, acc50."""
    inter, union, per, hit = (sums[..., k] for k in range(4))
    with np.errstate(divide="ignore", invalid="ignore"):
        ciou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return np.stack([ciou, per / n, hit / n], axis=-1)


def _boot_sums(cols: Sequence[np.ndarray], n_boot: int, seed: int) -> list[np.ndarray]:
    """For each (4, n) column block, its (n_boot, 4) sums over the same resampled items."""
    n = cols[0].shape[1]
    rng = np.random.default_rng(seed)
    out = [np.empty((n_boot, 4)) for _ in cols]
    rows = max(1, _CHUNK_ELEMENTS // n)
    for lo in range(0, n_boot, rows):
        hi = min(n_boot, lo + rows)
        idx = rng.integers(0, n, size=(hi - lo, n), dtype=np.uint32)
        # How often each item is drawn per replicate, then one matrix product per arm: several
        # times faster than gathering the drawn items' values and summing them.
        flat = idx.astype(np.int64) + np.arange(hi - lo, dtype=np.int64)[:, None] * n
        counts = np.bincount(flat.ravel(), minlength=(hi - lo) * n).reshape(hi - lo, n)
        counts = counts.astype(float)
        for c, o in zip(cols, out, strict=True):
            o[lo:hi] = counts @ c.T
    return out


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def box_metrics(pred: BoxesLike, gold: BoxesLike, *, threshold: float = 0.5,
                n_boot: int = 2000, seed: int = 0, confidence: float = 0.95) -> BoxMetrics:
    """cIoU, mIoU and accuracy at IoU >= ``threshold`` with percentile bootstrap intervals."""
    confidence = check_confidence(confidence)
    check_bootstrap(n_boot, seed)
    if not 0.0 < float(threshold) <= 1.0:
        raise MedmatError(f"threshold={threshold!r}: must be in (0, 1] (e.g. 0.5)")
    inter, union, n_miss = _overlaps(pred, gold)
    n = len(inter)
    cols = _stats(inter, union, threshold)
    point = _metrics(cols.sum(axis=1), n)
    boot = _metrics(_boot_sums([cols], int(n_boot), int(seed))[0], n)
    cis = [_interval(boot[:, k], confidence) for k in range(3)]
    return BoxMetrics(
        n=n, n_miss=n_miss,
        ciou=float(point[0]), ciou_ci95=cis[0], miou=float(point[1]), miou_ci95=cis[1],
        acc50=float(point[2]), acc50_ci95=cis[2], threshold=float(threshold),
        n_boot=int(n_boot), seed=int(seed), confidence=confidence,
    )


def paired_box_diff(pred_a: BoxesLike, pred_b: BoxesLike, gold: BoxesLike, *,
                    threshold: float = 0.5, n_boot: int = 2000, seed: int = 0,
                    confidence: float = 0.95) -> dict[str, BoxDiff]:
    """Arm a minus arm b for each of :data:`METRICS`, items resampled jointly for both arms."""
    confidence = check_confidence(confidence)
    check_bootstrap(n_boot, seed)
    if not 0.0 < float(threshold) <= 1.0:
        raise MedmatError(f"threshold={threshold!r}: must be in (0, 1] (e.g. 0.5)")
    cols_a = _stats(*intersections_unions(pred_a, gold), threshold)
    cols_b = _stats(*intersections_unions(pred_b, gold), threshold)
    n = cols_a.shape[1]
    point_a, point_b = _metrics(cols_a.sum(axis=1), n), _metrics(cols_b.sum(axis=1), n)
    sums_a, sums_b = _boot_sums([cols_a, cols_b], int(n_boot), int(seed))
    boot = _metrics(sums_a, n) - _metrics(sums_b, n)
    out = {}
    for k, name in enumerate(METRICS):
        diff = float(point_a[k] - point_b[k])
        if diff > 0:
            p = 2.0 * float(np.mean(boot[:, k] <= 0))
        elif diff < 0:
            p = 2.0 * float(np.mean(boot[:, k] >= 0))
        else:
            p = 1.0
        out[name] = BoxDiff(
            metric=name, diff=diff, ci95=_interval(boot[:, k], confidence), p_value=min(1.0, p),
            a=float(point_a[k]), b=float(point_b[k]), n=n, n_boot=int(n_boot), seed=int(seed),
            confidence=confidence,
        )
    return out
