"""`medmat study DESIGN --catalog --out DIR` through click's CliRunner."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from medmat.catalog import load_catalog
from medmat.cli.study_cmd import PLAN_KIND, command
from medmat.errors import MedmatError
from medmat.experiment.config import load_config
from medmat.manifest import read_kind


def run(*args: str):
    return CliRunner().invoke(command, list(args))


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


@pytest.fixture(scope="module")
def pairwise_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("plans") / "pairwise"
    res = run("pairwise", "--catalog", "--backend", "builtin", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "X-ray Bones + CT Brain -> X-ray Brain: reproduced by" in res.output
    assert "CT Cancer + X-ray COVID -> CT COVID: reproduced by" in res.output
    return out


def test_pairwise_plan_table_and_configs_agree(pairwise_dir):
    table = rows(pairwise_dir / "plan.csv")
    configs = sorted((pairwise_dir / "configs").glob("*.yaml"))
    assert sorted(f"{r['experiment']}.yaml" for r in table) == [p.name for p in configs]
    by_name = {r["experiment"]: r for r in table}
    ex = by_name["pairwise-03-fixed_area-04+28"]
    assert (ex["source_a_mat"], ex["source_b_mat"]) == ("CT / Lung / Cancer",
                                                         "X-ray / Lung / COVID-19")
    assert ex["primary"] == "True" and ex["related_items"] == "6000"
    for path in configs[:25]:  # load_config reads them exactly as `experiment run` would
        cfg = load_config(path)
        row = by_name[path.stem]
        arms = {a.name: a.subsets for a in cfg.arms if not isinstance(a, str)}
        assert arms["related"] == {row["source_a"]: int(row["items_a"]),
                                   row["source_b"]: int(row["items_b"])}
        assert sum(arms["unrelated"].values()) == int(row["unrelated_items"])
        assert "untrained" in cfg.arms and cfg.targets == [row["target"]]
        assert os.path.normpath(cfg.records) == str(pairwise_dir / "records.parquet")
    text = (pairwise_dir / "configs" / "pairwise-07-modality_area_pair-08+04.yaml").read_text()
    assert "'08': 3000" in text  # subset ids quoted for every YAML reader
    assert read_kind(pairwise_dir) == PLAN_KIND
    md = (pairwise_dir / "plan.md").read_text(encoding="utf-8")
    assert "ASSUMED" in md and "| 32 | X-ray / Brain / Cancer | fixed_task | task | 26 |" in md


def test_an_existing_plan_is_replaced_only_with_force(pairwise_dir, tmp_path):
    out = tmp_path / "abl"
    assert run("ablation", "--catalog", "--targets", "03,28", "--backend", "builtin",
               "--out", str(out)).exit_code == 0
    assert sorted(p.name for p in (out / "configs").iterdir()) == ["ablation-03.yaml",
                                                                   "ablation-28.yaml"]
    again = run("ablation", "--catalog", "--targets", "03", "--out", str(out))
    assert isinstance(again.exception, MedmatError) and "--force" in str(again.exception)
    forced = run("ablation", "--catalog", "--targets", "03", "--force", "--out", str(out))
    assert forced.exit_code == 0, forced.output
    assert [p.name for p in (out / "configs").iterdir()] == ["ablation-03.yaml"]
    cfg = load_config(out / "configs" / "ablation-03.yaml")
    assert cfg.backend == "hf" and cfg.backend_options["model"] == "Qwen/Qwen2-VL-2B-Instruct"
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    res = run("pairwise", "--catalog", "--force", "--out", str(foreign))
    assert "holds no study plan" in str(res.exception)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(("args", "message"), [
    (["pairwise", "--catalog", "--test-only", "03"], "multitask design only"),
    (["cls-det", "--catalog"], "cls-det' (status: available) cannot be planned from the catalog"),
    (["pairwise"], "--catalog"),
    (["pairwse", "--catalog"], "did you mean 'pairwise'"),
    (["ablation", "--catalog", "--primary-only"], "pairwise and three-source designs only"),
    (["pairwise", "--catalog", "--targets", "x1"], "subset numbers"),
])  # fmt: skip
def test_refusals_name_the_fix(args, message, tmp_path):
    res = run(*args, "--out", str(tmp_path / "o"))
    assert isinstance(res.exception, MedmatError), res.output
    assert message in str(res.exception)
    assert not (tmp_path / "o").exists()


def _records(path: Path, n_train: dict[str, int]) -> None:
    cols: dict[str, list] = {k: [] for k in ("record_id", "subset", "modality", "area", "task",
                                             "split")}
    for s in load_catalog().subsets:
        if s.no not in n_train:
            continue
        for i in range(n_train[s.no] + 2):
            for key, value in zip(cols, (f"{s.no}-{i}", s.no, s.modality, s.area, s.task,
                                         "train" if i < n_train[s.no] else "test"), strict=True):
                cols[key].append(value)
    pq.write_table(pa.table(cols), path)


def test_sizes_from_records_apply_the_test_only_rule(tmp_path):
    records = tmp_path / "records.parquet"
    sizes = {f"{n:02d}": 3000 for n in range(1, 38)}
    sizes["28"] = 40  # cannot supply 3,000 training items: test-only
    _records(records, sizes)
    out = tmp_path / "plan"
    res = run("pairwise", "--catalog", "--records", str(records), "--primary-only",
              "--backend", "builtin", "--out", str(out))
    assert res.exit_code == 0, res.output
    table = rows(out / "plan.csv")
    assert all(r["sizes"] == "counted" for r in table)
    assert all("28" not in (r["source_a"], r["source_b"]) for r in table)
    assert all("28:" not in r["unrelated"] for r in table)
    assert any(r["target"] == "28" for r in table)  # still a target (out of distribution)
    assert "CT Cancer + X-ray COVID -> CT COVID: NOT in the plan" in res.output
    primaries = [r for r in table if r["primary"] == "True"]
    assert len(list((out / "configs").iterdir())) == len(primaries) < len(table)
    cfg = yaml.safe_load((out / "configs" / f"{primaries[0]['experiment']}.yaml").read_text())
    assert cfg["data"]["records"] == str(records.resolve())


def test_sizes_csv_and_records_of_another_dataset(tmp_path):
    sizes = tmp_path / "sizes.csv"
    sizes.write_text("subset,n_train\n3,5000\n4,5000\n28,5000\n30,5000\n16,5000\n17,5000\n",
                     encoding="utf-8")
    res = run("pairwise", "--catalog", "--sizes", str(sizes), "--backend", "builtin",
              "--out", str(tmp_path / "p"))
    assert res.exit_code == 0, res.output
    table = rows(tmp_path / "p" / "plan.csv")
    # 03 <- 04 + 28 (fixed area) and 28 <- 30 + 03 (fixed area); the unrelated arm can only be
    # Fundus photography (16, 17): no other given subset avoids CT/X-ray, Lung and disease state
    assert [(r["experiment"], r["unrelated"], r["related_items"]) for r in table] == [
        ("pairwise-03-fixed_area-04+28", "16:3000 17:3000", "6000"),
        ("pairwise-28-fixed_area-30+03", "16:3000 17:3000", "6000"),
    ]
    md = (tmp_path / "p" / "plan.md").read_text(encoding="utf-8")
    assert "- 05: not in the given sizes" in md
    bad = tmp_path / "other.parquet"
    pq.write_table(pa.table({"record_id": ["a"], "subset": ["03"], "modality": ["MRI"],
                             "area": ["Lung"], "task": ["COVID-19"], "split": ["train"]}), bad)
    res = run("pairwise", "--catalog", "--records", str(bad), "--out", str(tmp_path / "q"))
    assert "is not the catalog's" in str(res.exception)
