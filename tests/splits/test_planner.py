"""Planner invariants: coverage, no target leakage, size matching, refusal messages."""

from __future__ import annotations

import itertools

import pyarrow as pa
import pytest

from medmat.errors import MedmatError
from medmat.splits import (
    Arm,
    Plan,
    SubsetInfo,
    check_plan,
    find_target,
    lattice_from_table,
    plan_target,
    related_subsets,
)

MODS, AREAS, TASKS = ("X-ray", "CT", "MRI", "Ultrasound"), ("Lung", "Brain", "Kidney", "Bones"), (
    "Lesion type", "Severity grade", "Abnormality", "Location")


def make_lattice(cells, n_train=100, n_test=20):
    return {
        f"{m}|{a}|{t}": SubsetInfo(f"{m}|{a}|{t}", m, a, t, n_train=n_train, n_test=n_test)
        for m, a, t in cells
    }


FULL = make_lattice(itertools.product(MODS, AREAS, TASKS))
TARGET = FULL["X-ray|Brain|Lesion type"]


def test_related_covers_every_element_and_never_the_target():
    chosen = related_subsets(TARGET, FULL)
    covered = set().union(*(TARGET.shared(s) for s in chosen))
    assert covered == {"modality", "area", "task"}
    assert all(s.triplet != TARGET.triplet for s in chosen)
    # prefers subsets sharing two elements, keeping the task: the study's design
    assert all(len(TARGET.shared(s)) == 2 for s in chosen)
    assert all("task" in TARGET.shared(s) for s in chosen)
    assert len(chosen) == 2


@pytest.mark.parametrize("target_key", list(FULL)[::7])
def test_plan_invariants_over_many_targets(target_key):
    target = FULL[target_key]
    plan = plan_target(target, FULL, ["related", "unrelated", "only_modality", "only_area",
                                      "only_task", "target_trained", "untrained"],
                       budget_per_subset=60, seed=3)
    arms = {a.name: a for a in plan.arms}
    n_rel = arms["related"].n_train
    for name in ("unrelated", "only_modality", "only_area", "only_task"):
        assert arms[name].n_train == n_rel, name  # size-matched
    for sub in arms["unrelated"].budgets:
        assert not target.shared(FULL[sub])
    for element in ("modality", "area", "task"):
        for sub in arms[f"only_{element}"].budgets:
            assert target.shared(FULL[sub]) == {element}
    for name, arm in arms.items():
        if name != "target_trained":
            assert target.subset not in arm.budgets
            assert all(FULL[s].triplet != target.triplet for s in arm.budgets)
        for sub, budget in arm.budgets.items():
            assert 1 <= budget <= FULL[sub].n_train
    assert arms["target_trained"].budgets == {target.subset: min(n_rel, target.n_train)}
    assert arms["untrained"].n_train == 0


def test_planning_is_deterministic_and_seed_dependent():
    a = plan_target(TARGET, FULL, ["related", "unrelated"], budget_per_subset=60, seed=1)
    b = plan_target(TARGET, FULL, ["related", "unrelated"], budget_per_subset=60, seed=1)
    assert a == b
    seeds = {tuple(sorted(plan_target(TARGET, FULL, ["unrelated"], budget_per_subset=60,
                                      seed=s).arms[0].budgets)) for s in range(8)}
    assert len(seeds) > 1  # the unrelated draw really depends on the seed


def test_other_targets_are_avoided_in_size_matched_pools():
    other = "CT|Kidney|Severity grade"
    for seed in range(10):
        plan = plan_target(TARGET, FULL, ["unrelated"], budget_per_subset=60, seed=seed,
                           avoid=frozenset({other}))
        assert other not in plan.arms[0].budgets


def test_refuses_when_an_element_cannot_be_covered():
    lattice = make_lattice([("X-ray", "Brain", "Lesion type"), ("X-ray", "Lung", "Lesion type"),
                            ("CT", "Lung", "Severity grade")])
    with pytest.raises(MedmatError, match="supplies its area"):
        related_subsets(lattice["X-ray|Brain|Lesion type"], lattice)


def test_refuses_when_unrelated_cannot_be_size_matched():
    lattice = make_lattice([("X-ray", "Brain", "Lesion type"), ("X-ray", "Lung", "Lesion type"),
                            ("CT", "Brain", "Lesion type")], n_train=100)
    lattice["MRI|Kidney|Location"] = SubsetInfo("MRI|Kidney|Location", "MRI", "Kidney",
                                                "Location", n_train=50, n_test=5)
    with pytest.raises(MedmatError, match="cannot size-match arm 'unrelated'"):
        plan_target(lattice["X-ray|Brain|Lesion type"], lattice, ["related", "unrelated"])


def test_explicit_arm_with_target_combination_is_refused():
    dup = dict(FULL)
    # a second subset id carrying the target's own MAT combination (as in the real catalog)
    dup["copy"] = SubsetInfo("copy", "X-ray", "Brain", "Lesion type", n_train=100, n_test=0)
    with pytest.raises(MedmatError, match="target combination itself"):
        plan_target(TARGET, dup, [{"name": "sneaky", "subsets": {"copy": 10}}])
    # the planner's own related arm never picks it
    plan = plan_target(TARGET, dup, ["related"], budget_per_subset=10)
    assert "copy" not in plan.arms[0].budgets


def test_check_plan_refuses_target_items_out_of_range():
    plan = Plan(TARGET, (Arm("related", {"X-ray|Lung|Lesion type": 10}, target_items=1000),))
    with pytest.raises(MedmatError, match="target_items"):
        check_plan(plan, FULL)


@pytest.mark.parametrize(
    ("arms", "message"),
    [(["bogus"], "unknown arm"), ([{"name": "x", "subsets": {"nope": 3}}], "unknown subset"),
     ([{"name": "x", "subsets": {"CT|Lung|Lesion type": 0}}], "budget"),
     (["related", "related"], "unique")],
)
def test_bad_arm_specs_have_clear_errors(arms, message):
    with pytest.raises(MedmatError, match=message):
        plan_target(TARGET, FULL, arms)


def test_lattice_from_table_and_find_target():
    table = pa.table({
        "record_id": ["a", "b", "c"], "subset": ["s1", "s1", "s2"],
        "modality": ["X-ray", "X-ray", "CT"], "area": ["Lung"] * 3,
        "task": ["Lesion type"] * 3, "split": ["train", "test", "train"],
    })
    lattice = lattice_from_table(table)
    assert lattice["s1"].n_train == 1 and lattice["s1"].n_test == 1
    assert find_target(lattice, {"modality": "x-ray", "area": "lung", "task": "lesion type"}) \
        == lattice["s1"]
    with pytest.raises(MedmatError, match="not a subset"):
        find_target(lattice, "s9")
    bad = table.set_column(2, "modality", pa.array(["X-ray", "CT", "CT"]))
    with pytest.raises(MedmatError, match="mixes MAT triplets"):
        lattice_from_table(bad)
