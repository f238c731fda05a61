"""Planning pairwise and ablation on the synthetic lab and on a records table's own subsets."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from medmat.cli.study_cmd import command
from medmat.errors import MedmatError
from medmat.experiment.config import load_config
from medmat.experiment.planning import lattice_from_lab
from medmat.study.lattice_plan import (
    DEFAULT_LAB_CELLS,
    DEFAULT_LAB_TARGETS,
    lab_spec,
    plan_on_lattice,
)

ELEMENTS = ("modality", "area", "task")


def run(*args: str):
    return CliRunner().invoke(command, list(args))


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def triplet(subset: str) -> tuple[str, str, str]:
    m, a, t = subset.split("-")
    return m, a, t


def shared(x: str, y: str) -> set[str]:
    return {e for e, u, v in zip(ELEMENTS, triplet(x), triplet(y), strict=True) if u == v}


def test_default_lab_plans_one_pair_per_direction_for_each_target():
    plan = plan_on_lattice("pairwise", lattice_from_lab(lab_spec()), source="lab",
                           targets=DEFAULT_LAB_TARGETS, cap=500)
    assert len(plan.combinations) == 9 and not plan.skipped
    fixed = {"fixed_modality": "modality", "fixed_area": "area", "fixed_task": "task"}
    for c in plan.combinations:
        t, a, b = c.target.no, c.source_a.no, c.source_b.no
        # each source shares two elements with the target, both share the fixed one, and
        # together they cover all three; the target never trains
        assert len(shared(t, a)) == len(shared(t, b)) == 2
        assert fixed[c.direction] in shared(t, a) & shared(t, b)
        assert shared(t, a) | shared(t, b) == set(ELEMENTS)
        assert c.related == {a: 500, b: 500}
        assert sum(c.unrelated.values()) == 1000 and len(c.unrelated) == 2
        assert all(not shared(t, u) for u in c.unrelated)
        assert "photo" not in " ".join([a, b, *c.unrelated])
    assert {c.target.no for c in plan.combinations} == set(DEFAULT_LAB_TARGETS)


def test_lab_configs_default_to_builtin_three_seeds_and_the_general_mix(tmp_path):
    res = run("pairwise", "--lab", "--null", "--lab-seed", "3", "--out", str(tmp_path / "p"))
    assert res.exit_code == 0, res.output
    configs = sorted((tmp_path / "p" / "configs").glob("*.yaml"))
    table = rows(tmp_path / "p" / "plan.csv")
    assert len(configs) == len(table) == 9
    cfg = load_config(configs[0])
    assert cfg.backend == "builtin" and cfg.backend_options["epochs"] == 8
    assert cfg.seeds == [0, 1, 2] and cfg.general_items == 400
    assert cfg.lab is not None and cfg.lab.null and cfg.lab.seed == 3
    assert cfg.lab.cells == list(DEFAULT_LAB_CELLS) and cfg.lab.n_train == 500
    arms = {a.name: a.subsets for a in cfg.arms if not isinstance(a, str)}
    row = next(r for r in table if r["experiment"] == configs[0].stem)
    assert arms["related"] == {row["source_a"]: 500, row["source_b"]: 500}
    assert "untrained" in cfg.arms
    assert "run it: medmat study run" in res.output


def test_lab_ablation_keeps_the_study_arm_cap_ratio(tmp_path):
    plan = plan_on_lattice("ablation", lattice_from_lab(lab_spec()), source="lab",
                           targets=["xray-brain-lesion"], cap=500)
    assert plan.arm_cap == 2500  # 15,000 / 3,000 = 5 subsets at the cap
    arms = {a.name: a for a in plan.ablation}
    assert arms["untrained"].budgets == {}
    assert sum(arms["all_related"].budgets.values()) == 2500 < arms["all_related"].available
    assert all(shared("xray-brain-lesion", s) for s in arms["all_related"].budgets)
    assert all("xray" not in s for s in arms["related_no_modality"].budgets)
    assert all(not shared("xray-brain-lesion", s) for s in arms["all_unrelated"].budgets)
    assert "xray-brain-lesion" not in arms["all_except_target"].budgets


def _records(path: Path, n_train: dict[tuple[str, str, str, str], int]) -> None:
    cols: dict[str, list] = {k: [] for k in ("record_id", "subset", "modality", "area", "task",
                                             "split")}
    for (sub, m, a, t), n in n_train.items():
        for i in range(n + 5):
            values = (f"{sub}-{i}", sub, m, a, t, "train" if i < n else "test")
            for key, value in zip(cols, values, strict=True):
                cols[key].append(value)
    pq.write_table(pa.table(cols), path)


def test_records_plan_on_their_own_subsets_with_the_test_only_rule(tmp_path):
    records = tmp_path / "records.parquet"
    _records(records, {
        ("t", "CT", "Brain", "Tumor"): 60,
        ("a", "CT", "Lung", "Tumor"): 60, ("b", "MRI", "Brain", "Tumor"): 60,
        ("small", "X-ray", "Brain", "Tumor"): 10,  # below the cap: test-only, never a source
        ("c", "X-ray", "Lung", "Tumor"): 60,
        ("u1", "US", "Knee", "Fracture"): 60, ("u2", "Fundus", "Eye", "Grade"): 60,
        ("u3", "OCT", "Retina", "Stage"): 60,
        ("g", "Photo", "Scene", "Tumor"): 60,  # general-domain: never target or source
    })  # fmt: skip
    out = tmp_path / "plan"
    res = run("pairwise", "--records", str(records), "--cap", "50", "--out", str(out))
    assert res.exit_code == 0, res.output
    table = rows(out / "plan.csv")
    names = {(r["target"], r["direction"], r["source_a"], r["source_b"]) for r in table}
    assert ("t", "fixed_task", "a", "b") in names
    assert all("small" not in (r["source_a"], r["source_b"]) and "small" not in r["unrelated"]
               for r in table)  # fmt: skip
    # still a target (out of distribution): X-ray Lung + MRI Brain supply its elements
    assert ("small", "fixed_task", "c", "b") in names
    assert all("g" not in (r["target"], r["source_a"], r["source_b"]) for r in table)
    cfg = load_config(out / "configs" / "pairwise-t-fixed_task-a+b.yaml")
    assert cfg.records == str(records.resolve()) and cfg.backend == "builtin"
    unrelated = {a.name: a.subsets for a in cfg.arms if not isinstance(a, str)}["unrelated"]
    assert len(unrelated) == 2 and set(unrelated) <= {"u1", "u2", "u3"}
    assert list(unrelated.values()) == [50, 50]
    md = (out / "plan.md").read_text(encoding="utf-8")
    assert "planned on a records table" in md and "published examples" not in md


@pytest.mark.parametrize(("args", "message"), [
    (["pairwise", "--catalog", "--null"], "apply to --lab only"),
    (["pairwise", "--lab", "--catalog"], "without --catalog"),
    (["pairwise", "--lab", "--sizes", __file__], "--catalog only"),
    (["backbones", "--lab", "--model", "x"], "takes its backends from --backbones"),
    (["pairwise", "--lab", "--backbones", "[{name: a, backend: builtin}]"],
     "backbones design only"),
    (["pairwise", "--lab", "--targets", "xray-kidney-lesion"], "not a subset of the data"),
    (["pairwise", "--lab", "--targets", "photo-scene-lesion"], "general-domain"),
    (["pairwise", "--lab", "--seeds", "0,x"], "--seeds"),
    (["pairwise", "--lab", "--backend-options", "[1]"], "YAML mapping"),
    (["pairwise", "--lab", "--backend-options", "{epoch: 3}"], "epoch"),
])  # fmt: skip
def test_lab_refusals_name_the_fix(args, message, tmp_path):
    res = run(*args, "--out", str(tmp_path / "o"))
    assert isinstance(res.exception, MedmatError), res.output
    assert message in str(res.exception)
    assert not (tmp_path / "o").exists()


def test_run_refuses_a_folder_that_is_no_plan(tmp_path):
    res = run("run", str(tmp_path))
    assert isinstance(res.exception, MedmatError) and "not a study plan" in str(res.exception)
