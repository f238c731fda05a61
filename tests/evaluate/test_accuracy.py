from __future__ import annotations

import json
import math

import pytest

from medmat.errors import MedmatError
from medmat.evaluate import accuracy, seed_summary, wilson_interval
from medmat.records import Prediction

Z = 1.959963984540054  # norm.ppf(0.975)
Z2 = Z * Z  # 3.841459


def test_wilson_hand_computed():
    # k=0, n=10: center = half = (z²/2)/(n+z²) -> low 0, high = z²/(n+z²) = 3.841459/13.841459
    low, high = wilson_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx(3.841459 / 13.841459, abs=1e-6)
    assert high == pytest.approx(0.277533, abs=1e-6)
    # k=5, n=10: center 0.5, half = z/(10+z²)*sqrt(2.5 + z²/4) = 0.141602 * 1.860206 = 0.263407
    assert wilson_interval(5, 10) == pytest.approx((0.236593, 0.763407), abs=1e-6)
    # k=10, n=10: mirror image of k=0
    low, high = wilson_interval(10, 10)
    assert high == 1.0
    assert low == pytest.approx(1 - 0.277533, abs=1e-6)
    # k=81, n=100: center = (81 + 1.920729)/103.841459 = 0.798532,
    # half = 1.959964/103.841459 * sqrt(15.39 + 0.960365) = 0.018875 * 4.043558 = 0.076320
    assert wilson_interval(81, 100) == pytest.approx((0.722212, 0.874852), abs=1e-6)


def test_wilson_formula_and_confidence():
    k, n = 7, 23
    center = (k + Z2 / 2) / (n + Z2)
    half = Z / (n + Z2) * math.sqrt(k * (n - k) / n + Z2 / 4)
    assert wilson_interval(k, n) == pytest.approx((center - half, center + half), rel=1e-12)
    # wider confidence -> wider interval, nested
    lo90, hi90 = wilson_interval(k, n, 0.90)
    lo99, hi99 = wilson_interval(k, n, 0.99)
    assert lo99 < center - half < lo90 and hi90 < center + half < hi99


def test_wilson_errors():
    with pytest.raises(MedmatError, match="target 07.*no test items"):
        wilson_interval(0, 0, what="target 07")
    for args in [(11, 10), (-1, 10), (1.5, 10), (True, 10)]:
        with pytest.raises(MedmatError):
            wilson_interval(*args)
    for conf in (0, 1, 1.5, "0.95"):
        with pytest.raises(MedmatError, match="confidence"):
            wilson_interval(1, 10, conf)


def test_accuracy_counts_no_answer_as_wrong(make_preds):
    # 10 items: 6 right, 2 wrong letters, 2 no answer
    preds = make_preds("ABCDABCDAB", ["A", "B", "C", "D", "A", "B", "A", "A", None, None])
    res = accuracy(preds)
    assert (res.n, res.n_correct, res.no_answer) == (10, 6, 2)
    assert res.accuracy == 0.6
    assert res.ci95 == wilson_interval(6, 10)
    assert res.chance == 0.25
    d = res.to_dict()
    assert d["ci95"] == list(res.ci95) and d["no_answer"] == 2
    json.dumps(d)  # JSON-ready


def test_accuracy_pools_seeds(make_preds):
    # predictions pooled over two seeds repeat the item ids: that is allowed (accuracy of all)
    pooled = make_preds("ABCD", "ABCC") + make_preds("ABCD", "AAAA")
    res = accuracy(pooled)
    assert (res.n, res.n_correct) == (8, 4)


def test_accuracy_chance_mixed_options(make_preds):
    preds = make_preds("AAB", "AAA", n_options=[2, 3, 4])
    res = accuracy(preds)
    assert res.chance == pytest.approx((1 / 2 + 1 / 3 + 1 / 4) / 3)
    assert res.n_correct == 2


def test_accuracy_refuses_bad_input(make_preds):
    with pytest.raises(MedmatError, match="arm X.*no test items"):
        accuracy([], what="arm X")
    # an empty string or raw reply is not "no answer": the parser must have produced None
    for bad in ("", "a", "The answer is B"):
        with pytest.raises(MedmatError, match="predicted"):
            accuracy([Prediction(1, "A", bad, 4)])
    with pytest.raises(MedmatError, match="gold answer"):
        accuracy([Prediction(1, "D", "A", 3)])


def test_seed_summary_hand_values():
    s = seed_summary([0.5, 0.6, 0.7])
    assert s["mean"] == pytest.approx(0.6, abs=1e-12)
    assert s["sd"] == pytest.approx(0.1, abs=1e-12)  # sqrt((0.01 + 0 + 0.01) / 2)
    assert (s["n"], s["min"], s["max"]) == (3, 0.5, 0.7)
    s = seed_summary([1, 2, 3, 4])
    assert s["mean"] == 2.5
    assert s["sd"] == pytest.approx(math.sqrt(5 / 3))  # (2.25+0.25+0.25+2.25)/3
    assert seed_summary([0.8]) == {"mean": 0.8, "sd": 0.0, "n": 1, "min": 0.8, "max": 0.8}
    with pytest.raises(MedmatError, match="no values"):
        seed_summary([])
    with pytest.raises(MedmatError, match="non-finite"):
        seed_summary([0.5, float("nan")])
