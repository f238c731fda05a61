from __future__ import annotations

import json

import pytest

from medmat.evaluate import letter_bias


def test_always_a_model(make_preds):
    gold = "ABCD" * 25  # balanced gold letters
    res = letter_bias(make_preds(gold, "A" * 100))
    assert res["letters"] == ["A", "B", "C", "D"]
    assert res["predicted"] == {"A": 100, "B": 0, "C": 0, "D": 0}
    assert res["gold"] == {"A": 25, "B": 25, "C": 25, "D": 25}
    assert res["predicted_share"]["A"] == 1.0
    assert res["max_share_gap"] == 0.75 and res["max_letter"] == "A"
    # chi2 = (100-25)²/25 + 3 * 25²/25 = 225 + 75 = 300 on 3 dof
    assert res["chi2"] == pytest.approx(300.0) and res["dof"] == 3
    assert res["p_value"] < 1e-50
    json.dumps(res)


def test_unbiased_model(make_preds):
    gold = "ABCD" * 10
    res = letter_bias(make_preds(gold, gold))
    assert res["chi2"] == 0.0 and res["p_value"] == pytest.approx(1.0)
    assert res["max_share_gap"] == 0.0 and res["note"] == ""


def test_hand_chi_square_with_no_answer(make_preds):
    # two-option items; gold 6 A / 4 B; 2 no-answer; answered: 6 A, 2 B
    gold = "AAAAAABBBB"
    pred = ["A", "A", "A", "A", "B", None, "A", "A", "B", None]
    res = letter_bias(make_preds(gold, pred, n_options=2))
    assert (res["n"], res["n_answered"], res["no_answer"]) == (10, 8, 2)
    assert res["predicted"] == {"A": 6, "B": 2}
    assert res["gold_share"] == {"A": 0.6, "B": 0.4}
    assert res["predicted_share"] == {"A": 0.75, "B": 0.25}
    assert res["max_share_gap"] == pytest.approx(0.15)
    # expected 4.8 / 3.2: chi2 = 1.44/4.8 + 1.44/3.2 = 0.3 + 0.45 = 0.75, dof 1
    assert res["chi2"] == pytest.approx(0.75)
    assert res["p_value"] == pytest.approx(0.386476, abs=1e-5)
    assert "approximate" in res["note"]  # expected 3.2 < 5


def test_mixed_option_counts(make_preds):
    # 2-, 3- and 4-option items: letters run to D; predicting D where D is never gold
    res = letter_bias(make_preds("ABCAB", "ABCAD", n_options=[2, 2, 3, 3, 4]))
    assert res["letters"] == ["A", "B", "C", "D"]
    assert res["gold"]["D"] == 0 and res["predicted"]["D"] == 1
    assert res["p_value"] == 0.0 and res["chi2"] is None
    assert "never gold" in res["note"]


def test_undefined_tests(make_preds):
    res = letter_bias(make_preds("AB", [None, None], n_options=2))
    assert res["no_answer"] == 2 and res["p_value"] is None
    assert res["predicted_share"] == {"A": 0.0, "B": 0.0}
    res = letter_bias(make_preds("AAA", "AAA", n_options=3))
    assert res["p_value"] is None and res["dof"] is None
