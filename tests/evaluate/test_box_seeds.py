"""Grounding metrics over training seeds: hand-computed points, seed variance in the interval,
paired differences, misses and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from medmat.errors import MedmatError
from medmat.evaluate.box_seeds import seed_box_diff, seed_box_metrics, whole_image_ciou
from medmat.evaluate.boxes import box_metrics
from medmat.predictions import Prediction, box_iou

GOLD = [(0.0, 0.0, 0.5, 0.5), (0.0, 0.0, 0.25, 0.25), (0.5, 0.5, 1.0, 1.0), (0.0, 0.0, 0.5, 0.25)]


def _run(boxes, gold=GOLD):
    return [Prediction(item_id=i, answer="box", predicted=None if b is None else "box",
                       n_options=0, box=b, answer_box=g)
            for i, (b, g) in enumerate(zip(boxes, gold, strict=True))]


SEED0 = [(0.25, 0.25, 0.75, 0.75), (0.0, 0.0, 0.25, 0.25), None, (0.0, 0.0, 0.25, 0.25)]
SEED1 = [(0.0, 0.0, 0.5, 0.5), (0.0, 0.0, 0.5, 0.5), (0.5, 0.5, 1.0, 1.0), None]


def _by_hand(pred):
    """(intersections, unions, ious) with plain Python per item."""
    inter, union, ious = [], [], []
    for p, g in zip(pred, GOLD, strict=True):
        ga = (g[2] - g[0]) * (g[3] - g[1])
        if p is None:
            inter.append(0.0), union.append(ga), ious.append(0.0)
            continue
        w = max(0.0, min(p[2], g[2]) - max(p[0], g[0]))
        h = max(0.0, min(p[3], g[3]) - max(p[1], g[1]))
        i = w * h
        inter.append(i)
        union.append((p[2] - p[0]) * (p[3] - p[1]) + ga - i)
        ious.append(box_iou(p, g))
    return inter, union, ious


def test_points_per_seed_and_pooled_by_hand():
    m = seed_box_metrics([_run(SEED0), _run(SEED1)], n_boot=300, seed=3)
    i0, u0, r0 = _by_hand(SEED0)
    i1, u1, r1 = _by_hand(SEED1)
    c0, c1 = sum(i0) / sum(u0), sum(i1) / sum(u1)
    assert m.metrics["ciou"].per_seed == pytest.approx((c0, c1))
    # pooled: the sums of both seeds, not the mean of the two ratios
    assert m.metrics["ciou"].estimate == pytest.approx((sum(i0) + sum(i1)) / (sum(u0) + sum(u1)))
    assert m.metrics["miou"].estimate == pytest.approx((sum(r0) + sum(r1)) / 8)
    hits = sum(v >= 0.5 for v in r0 + r1)
    assert m.metrics["acc50"].estimate == pytest.approx(hits / 8)
    assert m.n_miss == 2 and m.miss_per_seed == (1, 1) and m.n_seeds == 2 and m.n_items == 4
    assert "two-level" in m.method
    for metric in m.metrics.values():
        lo, hi = metric.ci95
        assert 0.0 <= lo <= hi <= 1.0


def test_one_seed_agrees_with_the_item_bootstrap_point():
    one = seed_box_metrics([_run(SEED0)], n_boot=200, seed=0)
    flat = box_metrics(SEED0, GOLD, n_boot=200, seed=0)
    assert one.metrics["ciou"].estimate == pytest.approx(flat.ciou)
    assert one.metrics["miou"].estimate == pytest.approx(flat.miou)
    assert one.metrics["acc50"].estimate == pytest.approx(flat.acc50)
    assert "1 training seed" in one.method


def _many(n, rng, jitter):
    gold = [tuple(sorted(rng.uniform(0, 1, 2))) for _ in range(n)]
    gold = [(a, a, b, b) for a, b in gold]
    def pred(shift):
        return [(g[0] + shift, g[1], g[2] + shift, g[3]) for g in gold]
    return gold, pred(0.0), pred(jitter)


def test_seed_variance_widens_the_interval():
    rng = np.random.default_rng(7)
    gold, good, bad = _many(60, rng, 0.15)
    same = [_run(good, gold), _run(good, gold)]
    mixed = [_run(good, gold), _run(bad, gold)]
    w_same = np.diff(seed_box_metrics(same, n_boot=1000, seed=1).metrics["ciou"].ci95)[0]
    m = seed_box_metrics(mixed, n_boot=1000, seed=1)
    per = m.metrics["ciou"].per_seed
    assert per[0] == pytest.approx(1.0) and per[1] < 0.9
    assert np.diff(m.metrics["ciou"].ci95)[0] > 2 * w_same
    # the interval spans both seeds' values: seed variance is inside it
    lo, hi = m.metrics["ciou"].ci95
    assert lo <= per[1] + 1e-9 and hi >= 0.99


def test_paired_difference_values_and_self_pair():
    a, b = [_run(SEED1), _run(SEED1)], [_run(SEED0), _run(SEED0)]
    d = seed_box_diff(a, b, n_boot=500, seed=2, names=("a", "b"))
    ma = seed_box_metrics(a, n_boot=10).metrics
    mb = seed_box_metrics(b, n_boot=10).metrics
    for k in ("ciou", "miou", "acc50"):
        assert d[k].diff == pytest.approx(ma[k].estimate - mb[k].estimate)
        assert d[k].a == pytest.approx(ma[k].estimate)
        assert d[k].ci95[0] <= d[k].diff + 1e-9 <= d[k].ci95[1] + 2e-9
    same = seed_box_diff(a, a, n_boot=200, seed=2)
    assert same["ciou"].diff == 0.0 and same["ciou"].p_value == 1.0


def test_refusals():
    with pytest.raises(MedmatError, match="no true box"):
        seed_box_metrics([[Prediction(0, "A", "A", 4)]])
    with pytest.raises(MedmatError, match="other test items"):
        seed_box_metrics([_run(SEED0), _run(SEED0)[:3]])
    other = [Prediction(p.item_id, p.answer, p.predicted, 0, box=p.box,
                        answer_box=(0.0, 0.0, 1.0, 1.0))
             for p in _run(SEED0)]
    with pytest.raises(MedmatError, match="true boxes"):
        seed_box_diff([_run(SEED0)], [other])
    with pytest.raises(MedmatError, match="threshold"):
        seed_box_metrics([_run(SEED0)], threshold=0)


def test_whole_image_ciou_is_the_gold_area_share():
    areas = [(g[2] - g[0]) * (g[3] - g[1]) for g in GOLD]
    assert whole_image_ciou(GOLD) == pytest.approx(sum(areas) / len(GOLD))
