"""The design registry: the seven study designs as data, validated on load."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from medmat.errors import MedmatError
from medmat.study import load_designs
from medmat.study.registry import DESIGNS_FILE

PKG_YAML = Path(__file__).parents[2] / "src" / "medmat" / "study" / DESIGNS_FILE


def test_every_study_design_is_declared_with_its_status():
    reg = load_designs()
    assert reg.names() == ["pairwise", "ablation", "three-source", "multitask", "efficiency",
                           "backbones", "cls-det"]
    status = {n: reg.design(n).status for n in reg.names()}
    assert set(status.values()) == {"available"}
    # the catalog plans the designs it has the subsets for (no boxes, no runs to compare)
    assert [n for n in reg.names() if reg.design(n).catalog] == [
        "pairwise", "ablation", "three-source", "multitask", "backbones"]


def test_the_study_numbers_are_the_papers():
    reg = load_designs()
    assert reg.design("pairwise").params["cap_per_subset"] == 3000
    assert reg.design("ablation").params == {"cap_per_subset": 3000, "arm_cap": 15000}
    assert [a.name for a in reg.design("pairwise").arms] == ["related", "unrelated", "untrained"]
    assert len(reg.design("ablation").arms) == 7  # the subset 03 / 28 table has seven columns
    assert reg.design("backbones").params == {"cap_per_subset": 3000,
                                              "combinations_per_direction": 2, "draw_seed": 42}
    assert reg.task_kind("COVID-19") == reg.task_kind("Cancer") == "state"
    assert reg.task_kind("Grade") == "Grade"


def test_design_lookup_fills_the_name_and_suggests_on_typos():
    reg = load_designs()
    assert reg.design("ablation").name == "ablation"
    with pytest.raises(MedmatError, match="did you mean 'pairwise'"):
        reg.design("pairwse")


def _write(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load(PKG_YAML.read_text(encoding="utf-8"))
    edit(raw)
    path = tmp_path / "designs.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_a_design_citing_an_unknown_rule_is_refused(tmp_path):
    path = _write(tmp_path, lambda r: r["designs"]["pairwise"]["rules"].append("made_up"))
    with pytest.raises(MedmatError, match=r"designs.yaml.*made_up"):
        load_designs(path)


def test_unknown_keys_and_catalog_planning_of_a_planned_design_are_refused(tmp_path):
    path = _write(tmp_path, lambda r: r["designs"]["pairwise"].update(status="planned"))
    with pytest.raises(MedmatError, match="catalog planning needs status 'available'"):
        load_designs(path)
    path = _write(tmp_path, lambda r: r["designs"]["ablation"].update(budgett=1))
    with pytest.raises(MedmatError, match=r"designs\.ablation\.budgett"):
        load_designs(path)


def test_a_task_in_two_kinds_is_refused(tmp_path):
    path = _write(tmp_path, lambda r: r["task_kinds"].update(other=["Cancer"]))
    with pytest.raises(MedmatError, match="'Cancer' is in task kinds"):
        load_designs(path)
