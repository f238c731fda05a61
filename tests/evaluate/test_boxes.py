"""Grounding metrics against hand-computed values: IoU, cIoU, mIoU, acc@0.5, misses, intervals."""

from __future__ import annotations

import numpy as np
import pytest

import medmat.evaluate.boxes as eb
from medmat.errors import MedmatError
from medmat.evaluate.boxes import box_metrics, intersections_unions, iou, paired_box_diff

GOLD = [(0, 0, 2, 2), (0, 0, 1, 1), (0, 0, 2, 2), (0, 0, 2, 1)]
# overlap 1x1 (union 4 + 4 - 1 = 7); identical; miss; half of the gold box (IoU exactly 0.5)
PRED = [(1, 1, 3, 3), (0, 0, 1, 1), None, (0, 0, 1, 1)]


def test_per_item_iou_hand_computed():
    inter, union = intersections_unions(PRED, GOLD)
    assert inter.tolist() == [1.0, 1.0, 0.0, 1.0]
    assert union.tolist() == [7.0, 1.0, 4.0, 2.0]  # the miss adds the gold area
    assert iou(PRED, GOLD).tolist() == pytest.approx([1 / 7, 1.0, 0.0, 0.5])


def test_containment_disjoint_touching_and_degenerate():
    gold = [(0, 0, 1, 1), (0, 0, 2, 2), (0, 0, 1, 1), (0, 0, 2, 2), (1, 1, 1, 1)]
    pred = [(0, 0, 2, 2), (5, 5, 6, 6), (1, 0, 2, 1), (1, 0, 1, 2), (1, 1, 1, 1)]
    inter, union = intersections_unions(pred, gold)
    # contained: 1/4; disjoint: union 4 + 1; touching edges: no area; zero-width pred inside
    # gold: 0 of 4; two identical points: union 0 -> IoU 0 (a degenerate answer never scores)
    assert inter.tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert union.tolist() == [4.0, 5.0, 2.0, 4.0, 0.0]
    assert iou(pred, gold).tolist() == [0.25, 0.0, 0.0, 0.0, 0.0]


def test_metrics_point_values():
    m = box_metrics(PRED, GOLD, n_boot=200, seed=1)
    assert m.n == 4 and m.n_miss == 1
    assert m.ciou == pytest.approx((1 + 1 + 0 + 1) / (7 + 1 + 4 + 2))
    assert m.miou == pytest.approx((1 / 7 + 1 + 0 + 0.5) / 4)
    assert m.acc50 == pytest.approx(2 / 4)  # IoU exactly 0.5 counts as a hit
    for k in ("ciou", "miou", "acc50"):
        lo, hi = getattr(m, f"{k}_ci95")
        assert 0.0 <= lo <= getattr(m, k) <= hi <= 1.0
    assert m.to_dict()["ciou_ci95"] == list(m.ciou_ci95)


def test_numpy_input_with_nan_miss_equals_list_input():
    arr = np.array([(1, 1, 3, 3), (0, 0, 1, 1), (np.nan,) * 4, (0, 0, 1, 1)], dtype=float)
    assert box_metrics(arr, np.array(GOLD), n_boot=50) == box_metrics(PRED, GOLD, n_boot=50)


def test_all_misses():
    m = box_metrics([None, None], [(0, 0, 1, 1), (0, 0, 0.5, 0.5)], n_boot=50)
    assert (m.ciou, m.miou, m.acc50, m.n_miss) == (0.0, 0.0, 0.0, 2)
    assert m.ciou_ci95 == (0.0, 0.0)


def test_bootstrap_matches_naive_resampling():
    rng = np.random.default_rng(7)
    xs, ys = np.sort(rng.random((30, 2)), axis=1), np.sort(rng.random((30, 2)), axis=1)
    gold = np.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], axis=1)
    pred = np.clip(gold + rng.normal(0, 0.05, gold.shape), 0, 1)
    pred[:, [0, 2]] = np.sort(pred[:, [0, 2]], axis=1)
    pred[:, [1, 3]] = np.sort(pred[:, [1, 3]], axis=1)
    pred[3] = np.nan
    m = box_metrics(pred, gold, n_boot=300, seed=11)
    # the same draws, one replicate at a time, metrics recomputed from scratch
    draws = np.random.default_rng(11).integers(0, 30, size=(300, 30), dtype=np.uint32)
    ci, mi = [], []
    for idx in draws:
        g, p = gold[idx], pred[idx]
        ok = ~np.isnan(p[:, 0])
        iw = np.clip(np.minimum(p[:, 2], g[:, 2]) - np.maximum(p[:, 0], g[:, 0]), 0, None)
        ih = np.clip(np.minimum(p[:, 3], g[:, 3]) - np.maximum(p[:, 1], g[:, 1]), 0, None)
        inter = np.where(ok, iw * ih, 0.0)
        ap = np.where(ok, (p[:, 2] - p[:, 0]) * (p[:, 3] - p[:, 1]), 0.0)
        union = ap + (g[:, 2] - g[:, 0]) * (g[:, 3] - g[:, 1]) - inter
        ci.append(inter.sum() / union.sum())
        mi.append(np.mean(inter / union))
    assert m.ciou_ci95 == pytest.approx(tuple(np.quantile(ci, [0.025, 0.975])))
    assert m.miou_ci95 == pytest.approx(tuple(np.quantile(mi, [0.025, 0.975])))


def test_chunking_does_not_change_results(monkeypatch):
    ref = box_metrics(PRED, GOLD, n_boot=101, seed=3)
    monkeypatch.setattr(eb, "_CHUNK_ELEMENTS", 9)  # two replicates per chunk
    assert box_metrics(PRED, GOLD, n_boot=101, seed=3) == ref


def test_seeded_and_reproducible():
    a = box_metrics(PRED, GOLD, n_boot=100, seed=5)
    assert a == box_metrics(PRED, GOLD, n_boot=100, seed=5)
    assert a.ciou_ci95 != box_metrics(PRED, GOLD, n_boot=100, seed=6).ciou_ci95


def test_paired_diff_hand_computed_and_identical_arms():
    better = [(0, 0, 2, 2), (0, 0, 1, 1), (0, 0, 2, 2), (0, 0, 2, 1)]  # perfect
    d = paired_box_diff(better, PRED, GOLD, n_boot=300, seed=2)
    assert d["ciou"].diff == pytest.approx(1 - 3 / 14)
    assert d["miou"].diff == pytest.approx(1 - (1 / 7 + 1.5) / 4)
    assert d["acc50"].diff == pytest.approx(0.5)
    assert d["ciou"].a == 1.0 and d["ciou"].b == pytest.approx(3 / 14)
    # arm a is never worse on any item, so no replicate can favour b
    assert d["ciou"].ci95[0] >= 0.0 and d["miou"].ci95[0] >= 0.0
    same = paired_box_diff(PRED, PRED, GOLD, n_boot=100)
    for k in ("ciou", "miou", "acc50"):
        assert (same[k].diff, same[k].ci95, same[k].p_value) == (0.0, (0.0, 0.0), 1.0)
    assert d["ciou"].to_dict()["ci95"] == list(d["ciou"].ci95)


def test_paired_uses_same_items_for_both_arms():
    # IoU of b is w_i (varying), of a is w_i + 0.1 on every item: resampling items jointly makes
    # every replicate's mIoU difference exactly 0.1; resampling arms apart would not
    gold = [(0, 0, 1, 1)] * 6
    widths = [0.1, 0.3, 0.4, 0.6, 0.7, 0.8]
    pred_b = [(0, 0, w, 1) for w in widths]
    pred_a = [(0, 0, w + 0.1, 1) for w in widths]
    d = paired_box_diff(pred_a, pred_b, gold, n_boot=200)
    assert d["miou"].diff == pytest.approx(0.1)
    assert d["miou"].ci95 == pytest.approx((0.1, 0.1), abs=1e-12)
    assert d["miou"].p_value == 0.0
    assert d["acc50"].diff == pytest.approx(1 / 6)  # only w = 0.4 crosses 0.5


@pytest.mark.parametrize(("pred", "gold", "match"), [
    ([(0, 0, 1, 1)], [], "no test items"),
    ([(0, 0, 1, 1)], [(0, 0, 1, 1), (0, 0, 1, 1)], "1 items but 2 gold"),
    ([(0, 0, 1, 1)], [None], "needs a box"),
    ([(1, 0, 0, 1)], [(0, 0, 1, 1)], "x2 < x1"),
    ([(0, 0, float("nan"), 1)], [(0, 0, 1, 1)], "non-finite"),
    ([(0, 0, 1)], [(0, 0, 1, 1)], "four numbers"),
    (["abcd"], [(0, 0, 1, 1)], "four numbers"),
])
def test_bad_inputs(pred, gold, match):
    with pytest.raises(MedmatError, match=match):
        box_metrics(pred, gold, n_boot=10)


@pytest.mark.parametrize("kwargs", [{"n_boot": 0}, {"seed": -1}, {"seed": None},
                                    {"confidence": 1.0}, {"threshold": 0.0}])
def test_bad_parameters(kwargs):
    with pytest.raises(MedmatError):
        box_metrics(PRED, GOLD, **kwargs)
