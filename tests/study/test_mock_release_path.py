"""The mock Med-MAT release through the whole path: ingest -> build -> study plan -> run -> report.

The study's rules are absolute (3,000 training items per subset): at --scale 0.01 every mock
subset falls below that cap, so `medmat study --records` rightly plans nothing and says why.
The plan that trains uses the same rules with the cap scaled like the data (a designs file with
cap_per_subset = 3000 x scale), through the planner's API.
"""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest
import yaml

from medmat.catalog import load_catalog
from medmat.cli import main
from medmat.experiment.config import ExperimentConfig
from medmat.records import read_records
from medmat.study import catalog_plan
from medmat.study.plan_output import experiment_configs, write_plan
from medmat.study.registry import load_designs

SCALE = 0.01
# the two published pairwise examples (03 <- 04 + 28, 32 <- 26 + 06) and an unrelated pool
SUBSETS = ("03", "04", "06", "11", "16", "25", "26", "28", "32")


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("MEDMAT_PROGRESS", "0")


def cli(*argv: str) -> None:
    main([str(a) for a in argv])


def scaled_designs(folder: Path, scale: float) -> Path:
    """The package's design registry with the per-subset and per-arm caps scaled."""
    raw = yaml.safe_load((resources.files("medmat.study") / "designs.yaml").read_text("utf-8"))
    for design in raw["designs"].values():
        params = design.get("params", {})
        for key in ("cap_per_subset", "arm_cap"):
            if key in params:
                params[key] = round(params[key] * scale)
    path = folder / "designs-scaled.yaml"
    path.write_text(yaml.safe_dump(raw), "utf-8")
    return path


def ingest_release(release: Path, records: Path) -> dict:
    cli("ingest", release / "Aggregated_Subsets", "--format", "medmat-json", "--images-root",
        release, "--out", records)
    return json.loads((release / "mock-release.json").read_text())


def check_records(records: Path, summary: dict) -> dict[str, int]:
    """Records match the generated release subset by subset; returns train records per subset."""
    cat = load_catalog()
    recs = read_records(records)
    per = Counter((r.subset, r.split) for r in recs)
    for no, s in summary["subsets"].items():
        entry = cat.subset(no)
        for split in ("train", "test"):
            assert per[(no, split)] == s["images"][split], (no, split)
        mine = [r for r in recs if r.subset == no]
        assert {(r.modality, r.area, r.task) for r in mine} == {
            (entry.modality, entry.area, entry.task)}
        assert {lab for r in mine for lab in r.labels} == set(s["labels"])
        assert {int(r.source) for r in mine} <= set(entry.dataset_nos)
    assert len(recs) == summary["total"]["images"]
    return {no: per[(no, "train")] for no in summary["subsets"]}


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    base = tmp_path_factory.mktemp("path")
    cli("mock-release", "--scale", SCALE, "--subsets", ",".join(SUBSETS), "--out",
        base / "release", "-q")
    summary = ingest_release(base / "release", base / "records")
    return base, summary


def test_ingest_gives_the_generated_records_and_build_one_item_each(path):
    base, summary = path
    check_records(base / "records", summary)
    # rows at 0.01: round(rows x 0.01), >= 3 per label; 10% test, >= 1 per label
    assert summary["subsets"]["28"]["images"] == {"train": 1350, "test": 150}
    assert summary["subsets"]["32"]["images"] == {"train": 27, "test": 3}
    cli("build", base / "records", "--out", base / "items", "-q")
    built = json.loads((base / "items" / "summary.json").read_text())
    assert built["n_items"] == built["n_records"] == summary["total"]["images"]
    assert built["skipped"]["count"] == 0 and built["leakage"]["dropped"] == 0


def test_study_cli_counts_sizes_from_the_records(path):
    base, summary = path
    cli("study", "pairwise", "--catalog", "--records", base / "records", "--backend", "builtin",
        "--out", base / "plan-cli")
    man = json.loads((base / "plan-cli" / "manifest.json").read_text())
    train = {no: s["images"]["train"] for no, s in summary["subsets"].items()}
    assert man["config"]["sizes"] == train
    md = (base / "plan-cli" / "plan.md").read_text()
    assert "- training sizes: counted" in md
    # every subset is below the study's absolute 3,000-item cap at this scale: test-only
    assert "- combinations: 0 " in md and not (base / "plan-cli" / "configs").exists()


def test_scaled_plan_trains_on_the_record_sizes_and_finds_the_published_examples(path):
    base, summary = path
    sizes = catalog_plan.sizes_from_records(str(base / "records"))
    assert sizes == {no: s["images"]["train"] for no, s in summary["subsets"].items()}
    reg = load_designs(scaled_designs(base, SCALE))
    plan = catalog_plan.plan_pairwise(sizes=sizes, registry=reg)
    assert plan.cap == 30 and plan.combinations
    for c in plan.combinations:
        for no, n in {**c.related, **c.unrelated}.items():
            assert n <= min(30, sizes[no])
        assert c.related == {c.source_a.no: min(30, sizes[c.source_a.no]),
                             c.source_b.no: min(30, sizes[c.source_b.no])}
        assert sum(c.unrelated.values()) == sum(c.related.values())
    found = catalog_plan.published_examples(plan)
    assert [c.name for c in found["X-ray Bones + CT Brain -> X-ray Brain"]] == [
        "pairwise-32-fixed_task-26+06"]
    assert "pairwise-03-fixed_area-04+28" in [
        c.name for c in found["CT Cancer + X-ray COVID -> CT COVID"]]
    records = str((base / "records" / "records.parquet").resolve())
    configs = experiment_configs(plan, records=records, backend="builtin",
                                 backend_options={"epochs": 1})
    for cfg in configs.values():
        ExperimentConfig.model_validate(cfg)
    write_plan(plan, base / "plan", configs)
    assert (base / "plan" / "configs" / "pairwise-03-fixed_area-04+28.yaml").is_file()


@pytest.mark.slow
def test_a_planned_experiment_runs_to_a_report(path):
    base, _ = path
    config = base / "plan" / "configs" / "pairwise-03-fixed_area-04+28.yaml"
    if not config.is_file():  # the planning test writes it; alone, plan again
        test_scaled_plan_trains_on_the_record_sizes_and_finds_the_published_examples(path)
    cli("experiment", "run", config, "--out", base / "exp")
    metrics = json.loads((base / "exp" / "metrics.json").read_text())
    (target,) = metrics["targets"]
    arms = target["arms"]
    assert set(arms) == {"related", "unrelated", "untrained"}
    assert arms["related"]["budgets"] == {"04": 30, "28": 30}
    lattice = {row["subset"]: row for row in metrics["lattice"]}
    assert lattice["03"]["n_test"] == 20 and lattice["28"]["n_train"] == 1350
    assert all(0 <= a["accuracy"] <= 1 for a in arms.values())
    assert "03" in (base / "exp" / "report.md").read_text()


@pytest.mark.slow
def test_the_whole_release_at_scale_001(tmp_path):
    """All 37 subsets at --scale 0.01 (about 23,600 rows): ingest, build, plan."""
    cli("mock-release", "--scale", SCALE, "--out", tmp_path / "release", "-q")
    summary = ingest_release(tmp_path / "release", tmp_path / "records")
    assert summary["total"]["rows"] == 23613 and len(summary["subsets"]) == 37
    train = check_records(tmp_path / "records", summary)
    cli("build", tmp_path / "records", "--out", tmp_path / "items", "-q")
    built = json.loads((tmp_path / "items" / "summary.json").read_text())
    assert built["n_items"] == summary["total"]["images"]
    reg = load_designs(scaled_designs(tmp_path, SCALE))
    sizes = catalog_plan.sizes_from_records(str(tmp_path / "records"))
    assert sizes == train
    plan = catalog_plan.plan_pairwise(sizes=sizes, registry=reg)
    # the scaled test-only rule: subsets with fewer than 30 training records never train
    small = {no for no, n in sizes.items() if n < 30}
    assert small and not small & {s for c in plan.combinations
                                  for s in (c.source_a.no, c.source_b.no, *c.unrelated)}
    assert all(catalog_plan.published_examples(plan).values())
