"""Grounding targets in experiments: box metrics, cIoU contrasts, the whole-image baseline,
the report's table and boxes.png, and a resume that reads the boxes back."""

from __future__ import annotations

import json
import random

import pytest

from medmat.evaluate.box_seeds import seed_box_metrics, whole_image_ciou
from medmat.evaluate.results import load_result
from medmat.experiment.arms import PREDICTIONS, read_predictions
from medmat.experiment.config import load_config
from medmat.experiment.runner import run_experiment
from medmat.experiment.summary import summarise_target
from medmat.predictions import Prediction, box_iou
from medmat.splits import Plan, SubsetInfo
from medmat.splits.planner import Arm

N = 120


def _gold(i: int):
    rng = random.Random(i)
    x, y = rng.uniform(0, 0.6), rng.uniform(0, 0.6)
    return (x, y, x + 0.3, y + 0.3)


def _run(shift: float, seed: int, miss_every: int = 0):
    """Boxes off the gold by ``shift`` (plus a little seed noise); every ``miss_every``-th
    item has no box."""
    rng = random.Random(seed)
    out = []
    for i in range(N):
        g = _gold(i)
        s = shift + rng.uniform(0, 0.02)
        box = None if miss_every and i % miss_every == 0 else (g[0] + s, g[1], g[2] + s, g[3])
        out.append(Prediction(i, "box", None if box is None else "box", 0, box=box,
                              answer_box=g))
    return out


def test_grounding_summary_metrics_contrasts_and_verdicts():
    cfg = load_config({"data": {"lab": {"cells": ["ct-brain-detseg"]}},
                       "targets": ["ct-brain-detseg"], "bootstrap": 400, "seeds": [0, 1]})
    target = SubsetInfo("ct-brain-detseg", "CT", "Brain", "Detection/segmentation", n_train=100,
                        n_test=N)
    arms = (Arm("related", {"a": 10}), Arm("unrelated", {"b": 10}),
            Arm("target_trained", {"ct-brain-detseg": 10}), Arm("untrained", {}))
    preds = {"related": [_run(0.02, s) for s in (0, 1)],
             "unrelated": [_run(0.2, s + 5, miss_every=10) for s in (0, 1)],
             "target_trained": [_run(0.0, s + 9) for s in (0, 1)],
             "untrained": [_run(0.5, s + 20) for s in (0, 1)]}
    t = summarise_target(cfg, Plan(target, arms, ()), preds, dropped=0)
    assert t.is_grounding
    assert t.whole_image_ciou == pytest.approx(whole_image_ciou([_gold(i) for i in range(N)]))
    rel = t.arms["related"]
    # acc@0.5 is the arm's accuracy: the share of correct predictions (IoU >= 0.5), by hand
    hits = [sum(box_iou(p.box, p.answer_box) >= 0.5 for p in run) / N
            for run in preds["related"]]
    assert rel.accuracy == pytest.approx(sum(hits) / 2) and rel.chance is None
    assert rel.boxes.acc50.per_seed == pytest.approx(tuple(hits))
    unrel = t.arms["unrelated"]
    assert unrel.boxes.n_miss == 2 * 12 and unrel.no_answer == 24
    gain = t.gain
    assert gain.metric == "ciou"
    assert gain.diff == pytest.approx(rel.boxes.ciou.value - unrel.boxes.ciou.value)
    assert gain.boxes["miou"].diff == pytest.approx(rel.boxes.miou.value - unrel.boxes.miou.value)
    assert gain.ci95[0] > 0
    said = {v.question: v.verdict for v in t.verdicts}
    assert said["related vs unrelated"] == "CG gain"
    assert t.learnable is True and "whole-image box" in t.learnability.reason
    # the stored metrics read back through the same types
    again = load_result({"schema_version": 3, "name": "x", "seeds": [0, 1], "backend": "b",
                         "targets": [json.loads(t.model_dump_json())]})
    assert again.targets[0].arms["related"].boxes == rel.boxes


def test_old_schema_version_still_reads_and_unknown_refused():
    from medmat.errors import MedmatError

    base = {"name": "x", "seeds": [0], "backend": "b", "targets": [{
        "target": {"modality": "CT", "area": "Brain", "task": "t", "subset": "s"},
        "arms": {"a": {"name": "a", "accuracy": 0.5, "ci95": [0.4, 0.6], "n": 10}}}]}
    assert load_result({**base, "schema_version": 2}).targets[0].is_grounding is False
    with pytest.raises(MedmatError, match="schema version 9"):
        load_result({**base, "schema_version": 9})


def _detseg_config(tmp_path):
    return {
        "name": "grounding",
        "data": {"lab": {"seed": 0, "null": False, "size": 32, "n_train": 48, "n_test": 16,
                         "cells": ["xray-brain-detseg", "xray-brain-lesion",
                                   "ct-brain-detseg", "mri-kidney-abnormal",
                                   "us-bones-location"]}},
        "targets": ["xray-brain-detseg"],
        "arms": [{"name": "related", "subsets": {"xray-brain-lesion": 40,
                                                 "ct-brain-detseg": 40}},
                 {"name": "unrelated", "subsets": {"mri-kidney-abnormal": 40,
                                                   "us-bones-location": 40}},
                 "target_trained", "untrained"],
        "budget_per_subset": 40,
        "backend": "builtin",
        "backend_options": {"epochs": 2, "batch_size": 16, "image_size": 16, "width": 8,
                            "hidden": 32},
        "seeds": [0, 1],
        "bootstrap": 200,
    }


@pytest.mark.slow
def test_experiment_on_a_detection_target_reports_boxes(tmp_path):
    out = tmp_path / "run"
    result = run_experiment(_detseg_config(tmp_path), out)
    t = result.targets[0]
    assert t.is_grounding and t.whole_image_ciou is not None
    # every arm's cIoU recomputed from its predictions files, independently of the summary
    for name, arm in t.arms.items():
        runs = [read_predictions(out / "runs" / t.cell.subset / name / f"seed{s}" / PREDICTIONS)
                for s in (0, 1)]
        assert all(p.answer_box is not None for run in runs for p in run)
        inter = union = 0.0
        for run in runs:
            for p in run:
                b, g = p.box, p.answer_box
                iou_area = 0.0 if b is None else box_iou(b, g)
                ga = (g[2] - g[0]) * (g[3] - g[1])
                pa = 0.0 if b is None else (b[2] - b[0]) * (b[3] - b[1])
                i = iou_area * (pa + ga) / (1 + iou_area) if b is not None else 0.0
                inter, union = inter + i, union + pa + ga - i
        assert arm.boxes.ciou.value == pytest.approx(inter / union, rel=1e-6)
        assert arm.boxes.ciou.ci95[0] <= arm.boxes.ciou.value <= arm.boxes.ciou.ci95[1]
        again = seed_box_metrics(runs, n_boot=200, seed=0)
        assert again.metrics["miou"].estimate == pytest.approx(arm.boxes.miou.value)
    text = (out / "report.md").read_text()
    assert "## Grounding" in text and "boxes.png" in text and "cIoU [95% CI]" in text
    assert "Whole-image box" in text
    png = (out / "boxes.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["schema_version"] == 3
    assert on_disk["targets"][0]["diffs"]["related_minus_unrelated"]["metric"] == "ciou"
    # resumed: every arm reused, the boxes read back, the same metrics byte for byte
    before = (out / "metrics.json").read_bytes()
    (out / "metrics.json").unlink()
    run_experiment(_detseg_config(tmp_path), out)
    assert (out / "metrics.json").read_bytes() == before
    assert (out / "boxes.png").read_bytes() == png
