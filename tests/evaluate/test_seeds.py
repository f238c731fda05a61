"""Two-level bootstrap (training seeds, then test items): seed variance enters the interval."""

from __future__ import annotations

import numpy as np
import pytest

from medmat.errors import MedmatError
from medmat.evaluate import (
    accuracy_over_seeds,
    paired_bootstrap_diff,
    seed_accuracy,
    seed_diff,
    two_level_accuracy,
    two_level_diff,
    wilson_interval,
)
from medmat.records import Prediction


def _row(acc: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Exactly round(acc * n) correct items, at random positions."""
    row = np.zeros(n, dtype=bool)
    row[rng.permutation(n)[: round(acc * n)]] = True
    return row


def _item_only(table: np.ndarray, n_boot: int = 2000, seed: int = 1) -> tuple[float, float]:
    """The item bootstrap of the per-item mean over seeds, written out independently."""
    per_item = table.mean(axis=0)
    idx = np.random.default_rng(seed).integers(0, per_item.size, (n_boot, per_item.size))
    lo, hi = np.quantile(per_item[idx].mean(axis=1), [0.025, 0.975])
    return float(lo), float(hi)


def _preds(table: np.ndarray) -> list[list[Prediction]]:
    """Prediction lists (one per seed): gold A, predicted A when correct, else B."""
    return [[Prediction(i, "A", "A" if ok else "B", 4) for i, ok in enumerate(row)]
            for row in table]


def test_seed_variance_widens_the_interval_to_the_per_seed_spread():
    """The audit's case: one arm at 26%, 42% and 50% over three training seeds."""
    rng = np.random.default_rng(0)
    table = np.array([_row(a, 200, rng) for a in (0.26, 0.42, 0.50)])
    res = two_level_accuracy(table, n_boot=2000, seed=0)
    assert res.per_seed == (0.26, 0.42, 0.50) and res.n_seeds == 3 and res.n_items == 200
    assert res.estimate == pytest.approx((0.26 + 0.42 + 0.50) / 3)
    assert "two-level" in res.method and "3 training seeds" in res.method
    lo, hi = res.ci95
    item_lo, item_hi = _item_only(table)
    spread = max(res.per_seed) - min(res.per_seed)
    assert item_hi - item_lo < 0.5 * spread  # the flaw: item-only is narrower than the spread
    assert hi - lo > 2 * (item_hi - item_lo)
    assert hi - lo >= 0.9 * spread and lo < 0.30 and hi > 0.48
    # the runner's current item-only interval (accuracy_over_seeds) is the narrow one too
    old = accuracy_over_seeds(_preds(table), n_boot=2000)
    assert old.ci95[1] - old.ci95[0] == pytest.approx(item_hi - item_lo, abs=0.02)


def test_identical_seeds_give_the_item_only_interval():
    rng = np.random.default_rng(1)
    row = _row(0.4, 200, rng)
    res = two_level_accuracy(np.array([row] * 4), n_boot=4000, seed=3)
    item_lo, item_hi = _item_only(np.array([row]), n_boot=4000)
    assert res.per_seed == (0.4,) * 4 and res.estimate == pytest.approx(0.4)
    assert res.ci95[0] == pytest.approx(item_lo, abs=0.012)
    assert res.ci95[1] == pytest.approx(item_hi, abs=0.012)


def test_one_seed_says_it_covers_item_variance_only():
    row = _row(0.3, 300, np.random.default_rng(2))
    res = two_level_accuracy(row)  # a flat sequence is one seed
    assert res.n_seeds == 1 and res.per_seed == (0.3,)
    assert "1 training seed" in res.method and "test-item variance only" in res.method
    wlo, whi = wilson_interval(90, 300)
    assert res.ci95[0] == pytest.approx(wlo, abs=0.015)
    assert res.ci95[1] == pytest.approx(whi, abs=0.015)


def test_coverage_when_seed_variance_dominates():
    """Simulated population of seeds and items (logistic model): the two-level interval covers
    the true mean accuracy about 95% of the time, the item-only interval far less often."""
    rng = np.random.default_rng(7)

    def p_correct(seeds, items):
        return 1.0 / (1.0 + np.exp(0.4 - seeds[:, None] - items[None, :]))

    truth = p_correct(rng.normal(0, 0.6, 3000), rng.normal(0, 1.0, 3000)).mean()
    hits_two, hits_item, runs = 0, 0, 120
    for r in range(runs):
        p = p_correct(rng.normal(0, 0.6, 5), rng.normal(0, 1.0, 150))
        table = rng.random(p.shape) < p
        lo, hi = two_level_accuracy(table, n_boot=400, seed=r).ci95
        hits_two += lo <= truth <= hi
        lo, hi = _item_only(table, n_boot=400, seed=r)
        hits_item += lo <= truth <= hi
    assert hits_two / runs >= 0.88, hits_two
    assert hits_item / runs <= 0.75, hits_item


def test_paired_difference_includes_seed_variance():
    rng = np.random.default_rng(4)
    a = np.array([_row(x, 200, rng) for x in (0.30, 0.55, 0.45)])
    b = np.array([_row(0.25, 200, rng) for _ in range(3)])
    res = two_level_diff(a, b, n_boot=2000, seed=0)
    assert res.per_seed == pytest.approx((0.05, 0.30, 0.20))
    assert res.per_seed_a == (0.30, 0.55, 0.45) and res.per_seed_b == (0.25,) * 3
    assert res.estimate == pytest.approx(res.acc_a - res.acc_b) == pytest.approx(0.55 / 3)
    item = paired_bootstrap_diff(a, b, n_boot=2000, seed=0)  # item-only, seeds as rows
    assert res.ci95[1] - res.ci95[0] > 1.8 * (item.ci95[1] - item.ci95[0])
    assert res.ci95[0] < 0.06  # the weak seed's +5 points is inside the interval
    assert res.se > item.se and 0.0 <= res.p_value <= 1.0


def test_identical_arms_have_no_difference():
    table = np.array([_row(x, 100, np.random.default_rng(7)) for x in (0.3, 0.5, 0.6)])
    res = two_level_diff(table, table)
    assert res.estimate == 0.0 and res.p_value == 1.0 and res.per_seed == (0.0,) * 3
    # seeds are drawn independently per arm (two arms' seed i train on different data), so
    # the seed spread still widens the interval around 0
    assert res.ci95[0] < -0.05 and res.ci95[1] > 0.05
    # runs that all give the same answers leave nothing to resample: a zero-width interval,
    # which medmat.evaluate.verdict never reads as a result
    constant = np.zeros((3, 100), dtype=bool)
    assert two_level_diff(constant, constant).ci95 == (0.0, 0.0)


def test_from_predictions_with_chance_and_checks():
    rng = np.random.default_rng(5)
    table_a = np.array([_row(x, 40, rng) for x in (0.5, 0.75)])
    table_b = np.array([_row(0.25, 40, rng) for _ in range(2)])
    acc = seed_accuracy(_preds(table_a), n_boot=500)
    assert acc.per_seed == (0.5, 0.75) and acc.chance == pytest.approx(0.25)
    diff = seed_diff(_preds(table_a), [list(reversed(r)) for r in _preds(table_b)], n_boot=500)
    assert diff.per_seed == pytest.approx((0.25, 0.5))  # aligned by item id, not position
    with pytest.raises(MedmatError, match="other test items"):
        seed_accuracy([_preds(table_a)[0], _preds(table_a)[1][:-1]])
    bad_gold = [[Prediction(p.item_id, "B", p.predicted, 4) for p in run]
                for run in _preds(table_b)]
    with pytest.raises(MedmatError, match="gold answer"):
        seed_diff(_preds(table_a), bad_gold)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: two_level_diff([[1, 0, 1]], [[1, 0]]), "same seeds and the same test items"),
        (lambda: two_level_accuracy([1, 0], n_boot=0), "n_boot"),
        (lambda: two_level_accuracy([1, 0], seed=-1), "seed"),
        (lambda: two_level_accuracy([1, 2]), "booleans"),
        (lambda: two_level_accuracy([1, 0], confidence=1.5), "confidence"),
        (lambda: seed_accuracy([]), "no runs"),
    ],
)
def test_bad_inputs_are_refused(call, message):
    with pytest.raises(MedmatError, match=message):
        call()
