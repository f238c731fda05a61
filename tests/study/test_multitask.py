"""The multitask design: planning rules on the lab and the catalog, and `medmat study run` end to
end on a tiny lab (every number against the experiments' own metrics and predictions)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from medmat.cli.study_cmd import command
from medmat.errors import MedmatError
from medmat.evaluate.results import load_result
from medmat.experiment.arms import PREDICTIONS, read_predictions
from medmat.experiment.planning import lattice_from_lab
from medmat.io import read_json
from medmat.study import multitask
from medmat.study.catalog_plan import plan_design
from medmat.study.lattice_plan import lab_spec, plan_on_lattice
from medmat.study.results import load_study_result
from medmat.study.run import run_study

TINY = ["--n-train", "40", "--n-test", "24", "--lab-size", "32", "--seeds", "0,1",
        "--backend-options", "{epochs: 2, batch_size: 16, image_size: 16, width: 8, hidden: 32}"]


def test_plan_rules_on_the_lab():
    lattice = lattice_from_lab(lab_spec(cells=multitask.DEFAULT_LAB_CELLS, n_train=50))
    plan = plan_on_lattice("multitask", lattice, source="lab", cap=50,
                           test_only=multitask.DEFAULT_LAB_TEST_ONLY)
    roles = {r.target.no: r.role for r in plan.rows}
    assert roles == {**{c: multitask.ID for c in multitask.DEFAULT_LAB_TARGETS[:4]},
                     **{c: multitask.OOD for c in multitask.DEFAULT_LAB_TEST_ONLY}}
    trainers = set(multitask.DEFAULT_LAB_TARGETS[:4])
    for r in plan.rows:
        assert set(r.multi) == trainers - {r.target.no}  # never the test-only cells, never itself
        assert r.single == (50 if r.role == multitask.ID else 0)
    with pytest.raises(MedmatError, match="--test-only nope"):
        plan_on_lattice("multitask", lattice, source="lab", cap=50, test_only=["nope"])


def test_catalog_plan_applies_the_test_only_rule():
    sizes = {"01": 5000, "02": 3000, "03": 2999, "04": 4000}
    plan = plan_design("multitask", sizes=sizes, targets=["01", "02", "03", "04"])
    by = {r.target.no: r for r in plan.rows}
    # 03 cannot supply the 3,000 cap: test-only; the others train each other
    assert by["03"].role == multitask.OOD and by["03"].single == 0
    assert by["01"].role == multitask.ID and by["01"].single == 3000
    assert set(by["03"].multi) == {"01", "02", "04"} and set(by["01"].multi) == {"02", "04"}


@pytest.mark.slow
def test_study_run_means_and_subsets_agree_with_the_experiments(tmp_path):
    out = tmp_path / "mt"
    targets = "xray-brain-lesion,ct-lung-lesion,xray-lung-lesion"
    res = CliRunner().invoke(command, ["multitask", "--lab", "--targets", targets, *TINY,
                                       "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    cfg = yaml.safe_load((out / "configs" / "multitask-xray-lung-lesion.yaml").read_text())
    assert [a if isinstance(a, str) else a["name"] for a in cfg["arms"]] == [
        "untrained", "multi_task"]
    result = run_study(out, log=lambda _line: None)
    assert load_study_result(read_json(out / "metrics.json")) == result
    m = result.multitask
    assert [s.role for s in m.subsets] == [multitask.ID, multitask.ID, multitask.OOD]
    correct: dict[tuple[str, str], list] = {}
    for s in m.subsets:
        exp = load_result(read_json(out / "runs" / s.experiment / "metrics.json"))
        arms = exp.targets[0].arms
        for name in ("untrained", "single_task", "multi_task"):
            mine = getattr(s, name)
            if s.role == multitask.OOD and name == "single_task":
                assert mine is None and name not in arms
                continue
            assert mine.value == arms[name].accuracy and mine.ci95 == arms[name].ci95
            # independently: per-seed accuracy from the stored predictions
            base = out / "runs" / s.experiment / "runs" / s.target.subset / name
            rows = [[p.correct for p in read_predictions(base / f"seed{k}" / PREDICTIONS)]
                    for k in (0, 1)]
            assert mine.per_seed == pytest.approx([np.mean(r) for r in rows])
            correct[s.experiment, name] = rows
        if s.multi_minus_single is not None:
            assert s.multi_minus_single.value == pytest.approx(
                s.multi_task.value - s.single_task.value)
        assert s.multi_minus_untrained.value == pytest.approx(
            s.multi_task.value - s.untrained.value)
    means = {row.role: row for row in m.means}
    ids = [s for s in m.subsets if s.role == multitask.ID]
    for name in ("untrained", "single_task", "multi_task"):  # equal test sizes: plain means
        got = getattr(means[multitask.ID], name)
        assert got.value == pytest.approx(np.mean([getattr(s, name).value for s in ids]))
        lo, hi = got.ci95
        assert lo <= got.value <= hi
    ood = means[multitask.OOD]
    assert ood.n_subsets == 1 and ood.single_task is None
    assert ood.multi_task.value == pytest.approx(m.subsets[2].multi_task.value)
    text = (out / "report.md").read_text()
    assert "| in-distribution | 2 |" in text and "| out-of-distribution | 1 |" in text
    # a rerun reuses every finished experiment and writes the same metrics
    again = run_study(out, log=lambda _line: None)
    assert again == result
    assert all("training" not in (p / "run-log.txt").read_text()
               for p in (out / "runs").iterdir())
