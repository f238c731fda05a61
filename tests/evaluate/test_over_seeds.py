"""Accuracy over several seeds: the interval resamples test items, not (seed, item) pairs."""

from __future__ import annotations

import pytest

from medmat.errors import MedmatError
from medmat.evaluate import accuracy, accuracy_over_seeds


def test_one_run_is_the_wilson_accuracy(make_preds):
    run = make_preds("ABCDABCDAB", "ABCDAAAAAA")
    assert accuracy_over_seeds([run]) == accuracy(run)


def test_seeds_that_disagree_item_by_item_have_no_item_level_spread(make_preds):
    # seed 1 is right on even items, seed 2 on odd ones: every item scores 0.5 on average,
    # so resampling items cannot move the mean. Pooling 20 (seed, item) pairs as independent
    # would wrongly claim a wide Wilson interval around 0.5.
    answers = "A" * 10
    s1 = make_preds(answers, "ABABABABAB")
    s2 = make_preds(answers, "BABABABABA")
    res = accuracy_over_seeds([s1, s2], n_boot=500, seed=1)
    assert res.accuracy == 0.5 and res.ci95 == (0.5, 0.5)
    assert res.n == 10 and res.n_seeds == 2 and res.n_correct == 10
    assert "bootstrap" in res.ci_method
    pooled = accuracy(s1 + s2)
    assert pooled.ci95[1] - pooled.ci95[0] > 0.3


def test_identical_seeds_give_the_single_run_accuracy_and_a_bracketing_interval(make_preds):
    run = make_preds("ABCDABCDABCDABCDABCD", "ABCDAAAAABCDAAAAABCD")
    res = accuracy_over_seeds([run, run, run], n_boot=1000, seed=0)
    assert res.accuracy == accuracy(run).accuracy == 0.7  # 4+1+4+1+4 of 20
    lo, hi = res.ci95
    assert lo < 0.7 < hi and res.n == 20
    assert accuracy_over_seeds([run, run, run], n_boot=1000, seed=0) == res  # seeded


def test_runs_on_different_items_are_refused(make_preds):
    with pytest.raises(MedmatError, match="different test items"):
        accuracy_over_seeds([make_preds("AB", "AB"), make_preds("AB", "AB", start=5)])
