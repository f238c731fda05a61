from __future__ import annotations

import numpy as np
import pytest

from medmat.errors import MedmatError
from medmat.evaluate import align, mcnemar, paired_bootstrap_diff
from medmat.evaluate import paired as paired_mod


def test_identical_arms_give_zero():
    a = [True, False, True, True, False] * 8
    res = paired_bootstrap_diff(a, list(a))
    assert res.diff == 0.0 and res.ci95 == (0.0, 0.0)
    assert res.se == 0.0 and res.p_value == 1.0
    assert res.acc_a == res.acc_b == 0.6


def test_all_right_vs_all_wrong():
    res = paired_bootstrap_diff([True] * 30, [False] * 30, n_boot=500)
    assert res.diff == 1.0 and res.ci95 == (1.0, 1.0)
    assert res.p_value == 0.0 and res.se == 0.0
    flipped = paired_bootstrap_diff([False] * 30, [True] * 30, n_boot=500)
    assert flipped.diff == -1.0 and flipped.ci95 == (-1.0, -1.0)


def test_known_standard_error():
    # d_i = a_i - b_i is 1 on half the items, 0 on the other half: sd(d) = 0.5, so the
    # bootstrap sd of the mean over n=100 items should be 0.5 / sqrt(100) = 0.05.
    a = [True] * 100
    b = [False] * 50 + [True] * 50
    res = paired_bootstrap_diff(a, b, n_boot=4000, seed=1)
    assert res.diff == 0.5
    assert res.se == pytest.approx(0.05, rel=0.08)
    # normal approximation 0.5 ± 1.96 * 0.05 = (0.402, 0.598)
    assert res.ci95[0] == pytest.approx(0.402, abs=0.03)
    assert res.ci95[1] == pytest.approx(0.598, abs=0.03)
    assert res.p_value == 0.0  # 0.5 is 10 se away from 0


def test_pairing_matters():
    # Same marginal accuracies (0.5 vs 0.4), but b's correct items are a subset of a's:
    # the paired difference varies far less than an unpaired one would.
    a = [True] * 50 + [False] * 50
    b = [True] * 40 + [False] * 60
    res = paired_bootstrap_diff(a, b, seed=3)
    unpaired_se = np.sqrt(0.5 * 0.5 / 100 + 0.4 * 0.6 / 100)  # 0.0700
    paired_se = np.sqrt(0.1 * 0.9 / 100)  # d is 1 on 10 items: 0.0300
    assert res.se == pytest.approx(paired_se, rel=0.1)
    assert res.se < unpaired_se / 2


def test_small_difference_not_significant():
    # 3 items only a gets right, 2 only b: no evidence of a difference
    a = [True] * 3 + [False] * 2 + [True] * 20 + [False] * 25
    b = [False] * 3 + [True] * 2 + [True] * 20 + [False] * 25
    res = paired_bootstrap_diff(a, b, seed=0)
    assert res.diff == pytest.approx(0.02)
    assert res.ci95[0] < 0 < res.ci95[1]
    assert res.p_value > 0.3


def test_deterministic_by_seed_and_chunk_independent(monkeypatch):
    rng = np.random.default_rng(7)
    a = rng.random(301) < 0.7
    b = rng.random(301) < 0.6
    r1 = paired_bootstrap_diff(a, b, seed=5)
    assert paired_bootstrap_diff(a.tolist(), b.tolist(), seed=5) == r1
    r2 = paired_bootstrap_diff(a, b, seed=6)
    assert (r2.ci95, r2.se) != (r1.ci95, r1.se)
    # chunks are consecutive draws from one generator: chunk size does not change the result
    monkeypatch.setattr(paired_mod, "_CHUNK_ELEMENTS", 301 * 7)
    assert paired_bootstrap_diff(a, b, seed=5) == r1


def test_seeds_by_items_resamples_whole_items():
    a1 = [True] * 100
    b1 = [False] * 50 + [True] * 50
    one = paired_bootstrap_diff(a1, b1, seed=2)
    # two seeds that agree exactly: same items, so no extra information and the same
    # interval (the per-item sums double and so does the total)
    two = paired_bootstrap_diff([a1, a1], [b1, b1], seed=2)
    assert (two.diff, two.ci95, two.se, two.p_value) == (one.diff, one.ci95, one.se, one.p_value)
    assert (two.n, two.n_seeds, one.n_seeds) == (100, 2, 1)
    # flattening the seeds would treat 200 rows as independent items: se 0.5/sqrt(200)
    flat = paired_bootstrap_diff(a1 + a1, b1 + b1, seed=2)
    assert flat.se == pytest.approx(0.5 / np.sqrt(200), rel=0.1) and flat.se < 0.8 * two.se
    # seeds that disagree: diff is the mean over all (seed, item) cells
    res = paired_bootstrap_diff([[1, 1, 0, 0], [1, 0, 0, 0]], [[0, 0, 0, 0], [0, 0, 0, 1]])
    assert res.diff == (2 + 1 - 1) / 8 and res.acc_a == 3 / 8 and res.acc_b == 1 / 8
    with pytest.raises(MedmatError, match="shape"):
        paired_bootstrap_diff([[True, False]], [[True, False], [True, True]])
    with pytest.raises(MedmatError, match="equal lengths"):
        paired_bootstrap_diff([[True, False], [True]], [[True, False], [True]])


def test_bootstrap_input_errors():
    with pytest.raises(MedmatError, match=r"\(3,\).*\(2,\)"):
        paired_bootstrap_diff([True, False, True], [True, False])
    with pytest.raises(MedmatError, match="no test items"):
        paired_bootstrap_diff([], [])
    with pytest.raises(MedmatError, match="booleans"):
        paired_bootstrap_diff([0, 2], [1, 0])
    with pytest.raises(MedmatError, match="n_boot"):
        paired_bootstrap_diff([True], [False], n_boot=0)
    with pytest.raises(MedmatError, match="seed"):
        paired_bootstrap_diff([True], [False], seed=None)
    with pytest.raises(MedmatError, match="flat sequence"):
        mcnemar([[True]], [[False]])


def test_align_pairs_by_item_id(make_preds):
    pa = make_preds("ABCD", "ABAA")  # items 0..3: right, right, wrong, wrong
    pb = list(reversed(make_preds("ABCD", "CBCD")))  # wrong, right, right, right
    ca, cb = align(pa, pb)
    assert ca == [True, True, False, False]
    assert cb == [False, True, True, True]


def test_align_errors(make_preds):
    pa = make_preds("ABCD", "ABCD")
    with pytest.raises(MedmatError, match=r"1 only in arm A, e.g. \[3\]"):
        align(pa, make_preds("ABC", "ABC"))
    # base has items 0..3, tuned 2..5
    expected = r"2 only in base, e.g. \[0, 1\]; 2 only in tuned, e.g. \[4, 5\]"
    with pytest.raises(MedmatError, match=expected):
        align(pa, make_preds("ABCD", "ABCD", start=2), names=("base", "tuned"))
    with pytest.raises(MedmatError, match="item 2 has gold answer"):
        align(pa, make_preds("ABDD", "ABCD"))
    with pytest.raises(MedmatError, match="twice"):
        align(pa + make_preds("A", "A"), pa)


def test_mcnemar_exact_hand_values():
    # a_only=8, b_only=2: p = 2 * P(X <= 2 | Bin(10, .5)) = 2 * (1 + 10 + 45) / 1024
    a = [True] * 8 + [False] * 2 + [True] * 5 + [False] * 3
    b = [False] * 8 + [True] * 2 + [True] * 5 + [False] * 3
    m = mcnemar(a, b)
    assert (m["a_only"], m["b_only"], m["both"], m["neither"], m["n"]) == (8, 2, 5, 3, 18)
    assert m["p_value"] == pytest.approx(112 / 1024)
    # 5 vs 0: 2 * 0.5**5
    assert mcnemar([True] * 5, [False] * 5)["p_value"] == pytest.approx(0.0625)
    assert mcnemar([True, False], [False, True])["p_value"] == 1.0
    assert mcnemar([True, True], [True, True])["p_value"] == 1.0
