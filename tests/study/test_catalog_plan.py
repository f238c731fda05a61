"""Planning pairwise and ablation on the catalog: the study's rules, checked independently."""

from __future__ import annotations

import pytest

from medmat.catalog import load_catalog
from medmat.errors import MedmatError
from medmat.experiment.config import ExperimentConfig
from medmat.experiment.planning import plan_experiment
from medmat.splits import SubsetInfo
from medmat.study.catalog_plan import (
    catalog_sources,
    paired_modality_areas,
    plan_ablation,
    plan_pairwise,
    published_examples,
    water_fill,
)
from medmat.study.plan_output import experiment_configs

CAT = load_catalog()
STATE = {"COVID-19", "Cancer", "Disease classification", "Hemorrhage", "Fracture",
         "Tuberculosis", "Pneumonia"}


def kind(task: str) -> str:
    return "state" if task in STATE else task


def mat(no: str) -> tuple[str, str, str]:
    s = CAT.subset(no)
    return (s.modality, s.area, s.task)


@pytest.fixture(scope="module")
def pairwise():
    return plan_pairwise()


def test_the_published_examples_are_planned(pairwise):
    by_name = {c.name: c for c in pairwise.combinations}
    # X-ray Bones + CT Brain -> X-ray Brain: target 32, fixed task (Cancer, at the kind level)
    ex1 = by_name["pairwise-32-fixed_task-26+06"]
    assert mat(ex1.target.no) == ("X-ray", "Brain", "Cancer")
    assert mat("26")[:2] == ("X-ray", "Bones") and mat("06")[:2] == ("CT", "Brain")
    assert ex1.primary
    # CT Cancer + X-ray COVID -> CT COVID: target 03, fixed area Lung
    ex2 = by_name["pairwise-03-fixed_area-04+28"]
    assert (mat("03"), mat("04"), mat("28")) == (
        ("CT", "Lung", "COVID-19"), ("CT", "Lung", "Cancer"), ("X-ray", "Lung", "COVID-19"))
    assert ex2.primary and ex2.fixed == "area"
    found = published_examples(pairwise)
    assert {k: sorted(c.name for c in v) for k, v in found.items()} == {
        "X-ray Bones + CT Brain -> X-ray Brain": [
            "pairwise-32-fixed_task-26+06", "pairwise-32-fixed_task-27+06",
            "pairwise-32-fixed_task-36+06"],
        "CT Cancer + X-ray COVID -> CT COVID": [
            "pairwise-03-fixed_area-04+28", "pairwise-03-fixed_task-06+28"],
    }


def test_every_combination_follows_the_studys_rules(pairwise):
    assert len(pairwise.combinations) > 40
    for c in pairwise.combinations:
        t, a, b = mat(c.target.no), mat(c.source_a.no), mat(c.source_b.no)
        assert t not in (a, b), c.name  # the target combination never trains
        assert t[0] in (a[0], b[0]) and t[1] in (a[1], b[1]) and t[2] in (a[2], b[2]), c.name
        for s in (c.source_a.no, c.source_b.no, *c.unrelated):
            assert int(s) <= 37, c.name  # detection/segmentation QA is not released
        if c.direction == "fixed_modality":
            assert a[0] == b[0] == t[0] and a[1] == t[1] and b[2] == t[2]
        elif c.direction == "fixed_area":
            assert a[1] == b[1] == t[1] and a[0] == t[0] and b[2] == t[2]
        elif c.direction == "fixed_task":
            assert kind(a[2]) == kind(b[2]) == kind(t[2]) and a[0] == t[0] and b[1] == t[1]
        else:
            assert c.direction == "modality_area_pair"
            assert a[:2] == t[:2] and b[0] != t[0] and b[1] != t[1] and b[2] == t[2]
        assert c.related == {c.source_a.no: 3000, c.source_b.no: 3000}
        assert sum(c.unrelated.values()) == 6000 and max(c.unrelated.values()) <= 3000
        for u in c.unrelated:
            m = mat(u)
            assert m[0] != t[0] and m[1] != t[1] and kind(m[2]) != kind(t[2]), (c.name, u)


def test_one_primary_per_target_and_direction(pairwise):
    keys = [(c.target.no, c.direction) for c in pairwise.combinations]
    primaries = [(c.target.no, c.direction) for c in pairwise.combinations if c.primary]
    assert sorted(primaries) == sorted(set(keys))


def test_modality_area_pairs_that_always_go_together():
    assert paired_modality_areas(catalog_sources().values()) == {
        ("Colposcopy", "Cervix"), ("Dental photography", "Mouth"), ("Dermoscopy", "Skin"),
        ("Fundus photography", "Fundus"), ("Microscopy", "Cell"), ("OCT", "Retina")}


def test_detection_subsets_and_uncoverable_targets_are_skipped_with_a_reason(pairwise):
    assert set(pairwise.targets).isdisjoint(pairwise.skipped)
    assert all("detection" in pairwise.skipped[f"{n}"] for n in range(38, 54))
    assert "Hemorrhage" in pairwise.skipped["05"]  # the only hemorrhage subset


def test_test_only_subsets_never_supply_training():
    sizes = {f"{n:02d}": 5000 for n in range(1, 38)}
    sizes["04"] = 2999  # below the cap: test-only
    plan = plan_pairwise(sizes=sizes)
    assert plan.sizes_known
    names = {c.name for c in plan.combinations}
    assert "pairwise-03-fixed_area-04+28" not in names
    assert "pairwise-03-fixed_task-06+28" in names
    assert all("04" not in (c.source_a.no, c.source_b.no, *c.unrelated)
               for c in plan.combinations)
    assert "04" in plan.targets  # a test-only subset can still be a target (OOD)
    assert all(max(c.related.values()) == 3000 for c in plan.combinations)


def test_subsets_missing_from_sizes_are_absent():
    sizes = {f"{n:02d}": 3000 for n in range(1, 38) if n != 28}
    plan = plan_pairwise(sizes=sizes)
    assert plan.skipped["28"] == "not in the given sizes"
    assert all("28" not in (c.source_a.no, c.source_b.no, *c.unrelated)
               for c in plan.combinations)
    with pytest.raises(MedmatError, match="not in the catalog"):
        plan_pairwise(sizes={"99": 3000})


def test_ablation_arms_for_subset_03():
    plan = plan_ablation(targets=["3"])
    arms = {a.name: a.budgets for a in plan.ablation}
    assert list(arms) == ["untrained", "all_unrelated", "all_related", "related_no_modality",
                          "related_no_area", "related_no_task", "all_except_target"]
    t = mat("03")
    classification = [f"{n:02d}" for n in range(1, 38) if mat(f"{n:02d}") != t]
    related = {s for s in classification
               if any(x == y for x, y in zip(mat(s), t, strict=True))}
    assert related == {"02", "04", "05", "06", "28", "30"}
    assert set(arms["all_related"]) == related
    assert set(arms["related_no_modality"]) == {"28", "30"}
    assert set(arms["related_no_area"]) == {"02", "05", "06"}
    assert set(arms["related_no_task"]) == related - {"28"}
    assert set(arms["all_except_target"]) == set(classification)
    assert arms["untrained"] == {}
    for budgets in arms.values():
        assert sum(budgets.values()) == min(15000, 3000 * len(budgets))
        assert all(n <= 3000 for n in budgets.values())
    for s in arms["all_unrelated"]:
        assert all(x != y for x, y in zip(mat(s)[:2], t[:2], strict=True))
        assert kind(mat(s)[2]) != "state"


def test_water_fill_is_exact_even_and_within_capacity():
    assert water_fill({"a": 3000, "b": 3000, "c": 3000}, 15000) == {
        "a": 3000, "b": 3000, "c": 3000}
    assert water_fill({"a": 100, "b": 3000, "c": 3000}, 5000) == {"a": 100, "b": 2450, "c": 2450}
    assert water_fill({"a": 10, "b": 10, "c": 10}, 7) == {"a": 3, "b": 2, "c": 2}


def test_plans_are_deterministic_and_the_seed_moves_only_the_unrelated_draw(pairwise):
    again = plan_pairwise()
    assert [(c.name, c.unrelated) for c in again.combinations] == [
        (c.name, c.unrelated) for c in pairwise.combinations]
    other = plan_pairwise(seed=1)
    assert [c.name for c in other.combinations] == [c.name for c in pairwise.combinations]
    assert [c.unrelated for c in other.combinations] != [
        c.unrelated for c in pairwise.combinations]


def _catalog_lattice() -> dict[str, SubsetInfo]:
    return {f"{n:02d}": SubsetInfo(f"{n:02d}", *mat(f"{n:02d}"), n_train=3000, n_test=100)
            for n in range(1, 38)}  # fmt: skip


@pytest.mark.parametrize("design", ["pairwise", "ablation"])
def test_configs_are_valid_and_the_runners_planner_accepts_them(design, pairwise):
    plan = pairwise if design == "pairwise" else plan_ablation()
    configs = experiment_configs(plan, backend="builtin")
    if design == "pairwise":
        assert len(configs) == len(plan.combinations)
    else:  # targets whose three elements other training subsets supply, each
        covered = [f"{n:02d}" for n in range(1, 38) if all(
            any(mat(f"{o:02d}")[i] == mat(f"{n:02d}")[i] and mat(f"{o:02d}") != mat(f"{n:02d}")
                for o in range(1, 38)) for i in range(3))]
        assert sorted(configs) == [f"ablation-{n}" for n in covered]
        assert "ablation-03" in configs and "ablation-28" in configs
    lattice = _catalog_lattice()
    for name, raw in configs.items():
        cfg = ExperimentConfig.model_validate(raw)
        assert cfg.name == name and cfg.data.records == "../records.parquet"
        (planned,) = plan_experiment(cfg, lattice)  # runs the runner's check_plan too
        budgets = {a.name: a.budgets for a in planned.arms}
        assert budgets["untrained"] == {}
        if design == "pairwise":
            combo = next(c for c in plan.combinations if c.name == name)
            assert budgets["related"] == combo.related
            assert budgets["unrelated"] == combo.unrelated
