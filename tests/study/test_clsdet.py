"""The cls-det design: planning both directions on the lab (rules checked independently) and
`medmat study run` end to end on a tiny lab (every study number against the experiments')."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from medmat.cli.study_cmd import command
from medmat.errors import MedmatError
from medmat.evaluate.results import load_result
from medmat.experiment.planning import lattice_from_lab
from medmat.io import read_json
from medmat.study import clsdet
from medmat.study.lattice_plan import lab_spec, plan_on_lattice
from medmat.study.results import load_study_result
from medmat.study.run import run_study

DET = "Detection/segmentation"
TINY = ["--n-train", "40", "--n-test", "24", "--lab-size", "32", "--seeds", "0,1",
        "--backend-options", "{epochs: 2, batch_size: 16, image_size: 16, width: 8, hidden: 32}"]
CELLS = ("xray-brain-detseg", "xray-brain-lesion", "ct-lung-detseg", "ct-lung-lesion",
         "mri-kidney-lesion", "us-bones-location", "mri-kidney-detseg", "us-bones-detseg",
         "fp-kidney-severity")


def _lattice(cells=CELLS, n_train=100):
    return lattice_from_lab(lab_spec(cells=cells, n_train=n_train, n_test=30))


def test_plan_both_directions_follow_the_rules():
    lattice = _lattice()
    targets = ["xray-brain-detseg", "xray-brain-lesion", "ct-lung-detseg", "ct-lung-lesion"]
    plan = plan_on_lattice("cls-det", lattice, source="lab", cap=100, seed=3, targets=targets)
    by_target = {c.target.no: c for c in plan.clsdet}
    assert sorted(by_target) == sorted(targets)
    for name, c in by_target.items():
        t = lattice[name]
        det = t.task == DET
        assert c.direction == ("det_from_cls" if det else "cls_from_det")
        assert c.target_items == 100
        for sub in c.related:  # the other kind, on the target's modality and area
            s = lattice[sub]
            assert (s.task == DET) != det and (s.modality, s.area) == (t.modality, t.area)
        for sub in c.unrelated:  # the other kind, sharing neither modality nor area
            s = lattice[sub]
            assert (s.task == DET) != det and s.modality != t.modality and s.area != t.area
        assert sum(c.unrelated.values()) == sum(c.related.values())
    # both unrelated detection cells and the three unrelated classification cells are eligible;
    # the seeded draw is reproducible
    again = plan_on_lattice("cls-det", lattice, source="lab", cap=100, seed=3, targets=targets)
    assert [c.unrelated for c in again.clsdet] == [c.unrelated for c in plan.clsdet]
    # default targets: every subset with a helper of the other kind on its modality and area
    every = plan_on_lattice("cls-det", lattice, source="lab", cap=100)
    assert sorted(every.targets) == sorted(set(CELLS) - {"fp-kidney-severity"})
    assert every.skipped == {
        "fp-kidney-severity": "no detection subset on Fundus photography / Kidney"}


def test_targets_without_helpers_are_skipped_with_a_reason():
    lattice = _lattice(cells=("xray-brain-detseg", "ct-lung-lesion", "mri-kidney-lesion",
                              "us-bones-detseg"))
    plan = plan_on_lattice("cls-det", lattice, source="lab", cap=100,
                           targets=["xray-brain-detseg", "ct-lung-lesion"])
    assert plan.clsdet == []
    assert plan.skipped == {"xray-brain-detseg": "no classification subset on X-ray / Brain",
                            "ct-lung-lesion": "no detection subset on CT / Lung"}
    with pytest.raises(MedmatError, match="not a subset"):
        plan_on_lattice("cls-det", lattice, source="lab", cap=100, targets=["nope"])


def test_default_lab_plan_writes_runnable_configs(tmp_path):
    out = tmp_path / "plan"
    res = CliRunner().invoke(command, ["cls-det", "--lab", "--out", str(out)])
    assert res.exit_code == 0, res.output
    configs = sorted(p.stem for p in (out / "configs").glob("*.yaml"))
    assert configs == [f"cls-det-{t}" for t in sorted(clsdet.DEFAULT_LAB_TARGETS)]
    assert "det_from_cls" in (out / "plan.csv").read_text()


@pytest.mark.slow
def test_study_run_reports_ciou_and_accuracy_with_intervals(tmp_path):
    out = tmp_path / "study"
    res = CliRunner().invoke(command, ["cls-det", "--lab", *TINY, "--out", str(out)])
    assert res.exit_code == 0, res.output
    result = run_study(out, log=lambda _line: None)
    again = load_study_result(read_json(out / "metrics.json"))
    assert again == result and result.design == "cls-det"
    assert {c.direction for c in result.clsdet} == {"det_from_cls", "cls_from_det"}
    for c in result.clsdet:
        exp = load_result(read_json(out / "runs" / c.experiment / "metrics.json"))
        t = exp.targets[0]
        arms = {a.name: a for a in c.arms}
        if c.direction == "det_from_cls":
            assert c.metric == "ciou" and t.is_grounding
            assert c.whole_image_ciou == t.whole_image_ciou is not None
            for name, arm in arms.items():
                assert arm.metric.value == t.arms[name].boxes.ciou.value
                assert arm.metric.ci95 == t.arms[name].boxes.ciou.ci95
                assert arm.accuracy.value == t.arms[name].boxes.acc50.value
                assert arm.n_miss == t.arms[name].boxes.n_miss
        else:
            assert c.metric == "accuracy" and not t.is_grounding
            for name, arm in arms.items():
                assert arm.metric.value == t.arms[name].accuracy
                assert arm.metric.ci95 == t.arms[name].ci95
        gain = t.diffs["related_minus_unrelated"]
        assert c.gain.value == gain.diff and c.gain.ci95 == gain.ci95
        single = t.diffs["target_trained_minus_related"]
        assert c.over_single.value == pytest.approx(-single.diff)
        assert c.over_single.ci95 == pytest.approx((-single.ci95[1], -single.ci95[0]))
        for arm in c.arms:
            lo, hi = arm.metric.ci95
            assert lo <= arm.metric.value <= hi
    text = (out / "report.md").read_text()
    assert "| xray-brain-detseg | det_from_cls | ciou |" in text
    assert "| xray-brain-lesion | cls_from_det | accuracy |" in text
    assert (out / "runs" / "cls-det-xray-brain-detseg" / "boxes.png").is_file()
    assert not (Path(out) / "gains.png").exists()  # the forest plot is pairwise's
