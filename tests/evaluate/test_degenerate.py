"""Degenerate arms are flagged and a verdict on them is "uninformative", never "no evidence"."""

from __future__ import annotations

import pytest

from medmat.errors import MedmatError
from medmat.evaluate import (
    AccuracyResult,
    accuracy,
    align,
    constant_answer,
    image_independence,
    learnability,
    letter_bias,
    paired_bootstrap_diff,
    shuffled_images,
    two_level_accuracy,
    upper_bound_check,
    verdict,
)
from medmat.evaluate.degenerate import VERDICTS
from medmat.records import Prediction, QAItem

LABELS = ("Nodule", "Cyst", "Calcification", "Linear lesion")


def _items(n: int = 200) -> list[QAItem]:
    """Label-balanced four-option items whose option orders rotate so that every text (and the
    gold answer) sits on every letter equally often, as medmat.qa balances answer letters."""
    items = []
    for i in range(n):
        gold, r = LABELS[i % 4], (i // 4) % 4
        options = LABELS[r:] + LABELS[:r]
        items.append(QAItem(
            id=i, caption="", image=f"images/t/{i:06d}.png", question="Which lesion?",
            answer=gold, question_choice="", answer_choice="ABCD"[options.index(gold)],
            data_no="", options=options, modality="X-ray", area="Brain", task="Lesion type",
            subset="xray-brain-lesion", split="test", record_id=f"t/{i:06d}",
            extra={"label": gold}))
    return items


def _answer(items: list[QAItem], texts: list[str | None]) -> list[Prediction]:
    """Predictions choosing the given option *texts* (None: no answer)."""
    return [Prediction(it.id, it.answer_choice,
                       None if t is None else "ABCD"[it.options.index(t)], 4)
            for it, t in zip(items, texts, strict=True)]


def test_the_constant_answer_case_is_flagged_and_uninformative():
    """Lab seed 5 of the audit: related and unrelated both answer "Linear lesion" on all 200
    items. Letters look unbiased (options are shuffled), the paired interval is [0, 0]."""
    items = _items()
    related = _answer(items, ["Linear lesion"] * 200)
    unrelated = _answer(items, ["Linear lesion"] * 200)
    assert accuracy(related).accuracy == 0.25  # the share of gold "Linear lesion"
    assert letter_bias(related)["p_value"] > 0.05  # the letter check cannot see it
    diff = paired_bootstrap_diff(*align(related, unrelated))
    assert diff.ci95 == (0.0, 0.0)
    check = constant_answer(related, items, what="related")
    assert check.flagged and check.share == 1.0 and check.top_answers == ("Linear lesion",)
    assert check.n_distinct == 1
    assert "'Linear lesion' on 100.0% of items" in check.reason
    said = verdict(diff, check, constant_answer(unrelated, items, what="unrelated"))
    assert said.startswith("uninformative: related answers 'Linear lesion'")
    assert "unrelated answers" in said
    # even without the flags, a zero-width interval is never read as "no evidence"
    assert verdict(diff).startswith("uninformative: zero-width interval")


@pytest.mark.parametrize(("n_same", "share", "flagged"),
                         [(200, 1.0, True), (190, 0.95, True), (189, 0.945, False),
                          (50, 0.25, False)])
def test_nearly_constant_threshold_is_95_percent(n_same, share, flagged):
    items = _items()
    others = [LABELS[i % 3] for i in range(200)]  # never "Linear lesion"
    texts = ["Linear lesion"] * n_same + others[n_same:]
    check = constant_answer(_answer(items, texts), items)
    assert check.flagged is flagged and check.share == pytest.approx(share)
    assert check.n_distinct == (1 if n_same == 200 else 4)


def test_constant_per_seed_with_different_texts_and_no_answers():
    items = _items(40)
    runs = [_answer(items, ["Cyst"] * 40), _answer(items, [None] * 40)]
    check = constant_answer(runs, {it.id: it.options for it in items})
    assert check.flagged and check.per_seed == (1.0, 1.0)
    assert check.top_answers == ("Cyst", "<no answer>")
    mixed = [_answer(items, ["Cyst"] * 40), _answer(items, [it.answer for it in items])]
    check = constant_answer(mixed, items)
    assert not check.flagged and check.per_seed == (1.0, 0.25) and check.share == 0.625


def test_shuffled_images_is_a_seeded_derangement():
    items = _items(30)
    shuffled = shuffled_images(items, seed=3)
    assert [s.id for s in shuffled] == [it.id for it in items]
    assert all(s.options == it.options and s.answer_choice == it.answer_choice
               for s, it in zip(shuffled, items, strict=True))
    assert sorted(s.image for s in shuffled) == sorted(it.image for it in items)
    assert all(s.image != it.image for s, it in zip(shuffled, items, strict=True))
    assert shuffled == shuffled_images(items, seed=3) != shuffled_images(items, seed=4)
    with pytest.raises(MedmatError, match="at least two"):
        shuffled_images(items[:1])


def test_image_independence():
    items = _items(80)
    shuffled = shuffled_images(items, seed=0)
    label_of = {it.image: it.extra["label"] for it in items}
    # a model that reads the image: it answers the label of whatever image it is shown
    seeing = _answer(items, [label_of[it.image] for it in items])
    seeing_shuffled = _answer(items, [label_of[s.image] for s in shuffled])
    check = image_independence(seeing, seeing_shuffled, items)
    expected = sum(label_of[s.image] == it.extra["label"]
                   for s, it in zip(shuffled, items, strict=True)) / 80
    assert not check.flagged and check.share == pytest.approx(expected) and check.share < 0.5
    # a model that answers from the question alone: the same answers whatever the image
    blind = _answer(items, [it.options[0] for it in items])
    check = image_independence([blind, blind], [blind, blind], items, what="unrelated")
    assert check.flagged and check.share == 1.0 and check.per_seed == (1.0, 1.0)
    assert "do not depend on the image" in verdict((0.01, 0.2), check)
    with pytest.raises(MedmatError, match="other items"):
        image_independence(blind, blind[:-1])


def test_learnability_decides_whether_a_null_test_is_informative():
    # the audit's null-lab X-ray/Brain at lab seed 5: 28.5% of 200, chance 25%
    weak = accuracy(_answer(_items(), [it.answer if i < 57 else
                                       next(o for o in it.options if o != it.answer)
                                       for i, it in enumerate(_items())]))
    assert weak.accuracy == 0.285 and weak.ci95[0] < 0.25
    check = learnability(weak)
    assert check.flagged and "not above chance 25.0%" in check.reason
    assert verdict((-0.02, 0.08), check).startswith("uninformative: target_trained 28.5%")
    strong = AccuracyResult(accuracy=0.5, ci95=(0.43, 0.57), n=200, n_correct=100,
                            no_answer=0, chance=0.25)
    assert not learnability(strong).flagged
    assert not learnability(two_level_accuracy([[1, 0, 1, 1] * 25] * 3), chance=0.25).flagged
    with pytest.raises(MedmatError, match="no chance level"):
        learnability(two_level_accuracy([1, 0] * 50))
    on_chance = AccuracyResult(accuracy=0.3, ci95=(0.25, 0.36), n=200, n_correct=60,
                               no_answer=0, chance=0.25)
    assert learnability(on_chance).flagged  # "above" means strictly above


def test_upper_bound_check():
    def res(acc):
        return AccuracyResult(acc, (acc - 0.05, acc + 0.05), 200, int(acc * 200), 0, 0.25)

    check = upper_bound_check(res(0.525), {"related": res(0.54), "unrelated": res(0.28)})
    assert check.flagged and "below related 54.0%" in check.reason
    assert not upper_bound_check(res(0.99), {"related": res(0.5)}).flagged


@pytest.mark.parametrize(
    ("interval", "expected"),
    [((0.05, 0.2), "CG gain"), ((-0.2, -0.01), "negative transfer"),
     ((-0.05, 0.1), "no evidence"), ((0.0, 0.1), "no evidence")],
)
def test_verdicts(interval, expected):
    assert verdict(interval) == expected
    unflagged = constant_answer(_answer(_items(8), list(LABELS) * 2), _items(8))
    assert not unflagged.flagged and verdict(interval, unflagged, "") == expected


def test_verdict_names_and_flags():
    assert verdict((0.01, 0.3), positive="beats its best component") == "beats its best component"
    assert verdict((0.01, 0.3), "the control arm failed") == "uninformative: the control arm failed"
    assert verdict((0.1, 0.1)).startswith("uninformative: zero-width interval [+10.0, +10.0]")
    assert VERDICTS == ("CG gain", "no evidence", "negative transfer", "uninformative: <why>")
