"""Typed target results: two-level intervals, degenerate flags and the three verdicts."""

from __future__ import annotations

import random

from medmat.evaluate.results import TargetResult
from medmat.experiment.config import load_config
from medmat.experiment.summary import summarise_target
from medmat.records import Prediction
from medmat.splits import Plan, SubsetInfo
from medmat.splits.planner import Arm

LETTERS = "ABCD"
OPTIONS = ("Nodule", "Cyst", "Calcification", "Linear lesion")
N = 200


def cfg():
    return load_config({"data": {"lab": {"cells": ["ct-brain-lesion"]}},
                        "targets": ["ct-brain-lesion"], "bootstrap": 400, "seeds": [0, 1, 2]})


def gold(i: int) -> str:
    return LETTERS[i % 4]


def run(p_correct: float, seed: int) -> list[Prediction]:
    """A model right with probability p_correct, else a wrong letter (image-dependent)."""
    rng = random.Random(seed)
    out = []
    for i in range(N):
        right = rng.random() < p_correct
        wrong = [x for x in LETTERS if x != gold(i)]
        out.append(Prediction(i, gold(i), gold(i) if right else rng.choice(wrong), 4))
    return out


def constant(text: str) -> list[Prediction]:
    """Answers the same option text on every item (options in a fixed order here)."""
    return [Prediction(i, gold(i), LETTERS[OPTIONS.index(text)], 4) for i in range(N)]


def summarise(preds: dict[str, list[list[Prediction]]], shuffled=None) -> TargetResult:
    target = SubsetInfo("ct-brain-lesion", "CT", "Brain", "Lesion type", 100, N)
    plan = Plan(target, tuple(Arm(name, {}) for name in preds))
    options = {i: OPTIONS for i in range(N)}
    shuffled = shuffled or {a: [run(0.25, 100 + k) for k in range(3)] for a in preds}
    return summarise_target(cfg(), plan, preds, 0, shuffled=shuffled, options=options)


def test_verdicts_and_best_component():
    preds = {
        "related": [run(0.7, s) for s in range(3)],
        "unrelated": [run(0.3, 10 + s) for s in range(3)],
        "only_task": [run(0.45, 20 + s) for s in range(3)],
        "component_x": [run(0.5, 30 + s) for s in range(3)],
        "target_trained": [run(0.9, 40 + s) for s in range(3)],
    }
    res = summarise(preds)
    said = {v.question: v.verdict for v in res.verdicts}
    assert said == {"related vs unrelated": "CG gain",
                    "related vs its best single component (component_x)": "recombination",
                    "related vs only_task": "beyond the task"}
    gain = res.diffs["related_minus_unrelated"]
    assert gain.n_seeds == 3 and "two-level" in gain.method and len(gain.per_seed) == 3
    # per-seed values are the per-seed accuracies, computed here independently
    rel = [sum(p.correct for p in r) / N for r in preds["related"]]
    assert res.arms["related"].per_seed == tuple(rel)
    assert abs(res.arms["related"].accuracy - sum(rel) / 3) < 1e-12
    assert res.learnable is True and not any(a.flagged for a in res.arms.values())


def test_constant_answers_make_the_verdict_uninformative():
    # the lab-seed-5 case of issue 10: both arms answer "Linear lesion" on every item
    preds = {"related": [constant("Linear lesion")] * 3,
             "unrelated": [constant("Linear lesion")] * 3,
             "target_trained": [run(0.9, s) for s in range(3)]}
    res = summarise(preds)
    gain = res.diffs["related_minus_unrelated"]
    assert gain.ci95 == (0.0, 0.0)  # what used to be printed as "no evidence"
    flag = res.arms["related"].flagged[0]
    assert flag.check == "constant_answer" and flag.share == 1.0 and "Linear lesion" in flag.reason
    assert res.verdicts[0].verdict.startswith("uninformative: related answers 'Linear lesion'")


def test_a_constant_control_arm_is_flagged_but_the_contrast_stays_informative():
    # unrelated data teaches nothing about the target: it answers one label (chance on a
    # balanced test set); related learned, so "related vs unrelated" is related vs chance
    preds = {"related": [run(0.6, s) for s in range(3)],
             "unrelated": [constant("Nodule")] * 3,
             "target_trained": [run(0.9, 20 + s) for s in range(3)]}
    res = summarise(preds)
    assert res.arms["unrelated"].flagged[0].check == "constant_answer"
    assert not res.arms["related"].flagged
    gain = res.diffs["related_minus_unrelated"]
    assert gain.ci95[0] > 0 and gain.ci95[1] > gain.ci95[0]
    assert res.verdicts[0].verdict == "CG gain"


def test_image_independent_arm_and_unlearnable_target_are_flagged():
    related = [run(0.6, s) for s in range(3)]
    preds = {"related": related, "unrelated": [run(0.3, 10 + s) for s in range(3)],
             "target_trained": [run(0.25, 40 + s) for s in range(3)]}
    # related answers the same with shuffled images: its answers do not use the image
    shuffled = {"related": related, "unrelated": [run(0.25, 50 + s) for s in range(3)],
                "target_trained": [run(0.25, 60 + s) for s in range(3)]}
    res = summarise(preds, shuffled)
    assert [f.check for f in res.arms["related"].flagged] == ["image_independent"]
    assert res.learnable is False and res.learnability.flagged
    v = res.verdicts[0].verdict
    assert v.startswith("uninformative") and "shuffled images" in v and "not learnable" in v
