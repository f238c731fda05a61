"""Planner invariants: coverage, no target leakage, size matching, refusal messages."""

from __future__ import annotations

import itertools
import json

import pyarrow as pa
import pytest

from medmat.errors import MedmatError
from medmat.splits import (
    TIE_RULE,
    Arm,
    Plan,
    SubsetInfo,
    check_plan,
    find_target,
    lattice_from_table,
    plan_target,
    related_selection,
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


# ---- ties among equally good related subsets (TIE_RULE) ------------------------------------

LESION = ("Calcification", "Cyst", "Linear lesion", "Nodule")


def _with(lattice, **changes):
    """A copy of ``lattice`` with some subsets replaced: key -> dict of field changes."""
    from dataclasses import replace

    out = dict(lattice)
    for key, fields in changes.items():
        out[key.replace("_", "|")] = replace(out[key.replace("_", "|")], **fields)
    return out


def test_ties_are_reported_with_their_candidates_and_rule():
    plan = plan_target(TARGET, FULL, ["related"], budget_per_subset=60, seed=0)
    sel = plan.to_dict()["selection"]
    assert sel["rule"] == TIE_RULE and "most training items" in TIE_RULE
    first, second = sel["related"]
    # three X-ray lesion subsets keep modality + task; three brain lesion subsets area + task
    assert first["candidates"] == ["X-ray|Bones|Lesion type", "X-ray|Kidney|Lesion type",
                                   "X-ray|Lung|Lesion type"]
    assert first["covers"] == ["modality", "task"] and second["covers"] == ["area"]
    assert second["candidates"] == ["CT|Brain|Lesion type", "MRI|Brain|Lesion type",
                                    "Ultrasound|Brain|Lesion type"]
    assert first["decided_by"] == second["decided_by"] == "seeded draw"
    assert sorted(plan.arms[0].budgets) == sorted([first["chosen"], second["chosen"]])
    json.dumps(plan.to_dict())  # plan.json is written from this


def test_seeded_draw_is_deterministic_and_not_the_lowest_id():
    chosen = [related_subsets(TARGET, FULL, seed=s)[0].subset for s in range(16)]
    assert chosen == [related_subsets(TARGET, FULL, seed=s)[0].subset for s in range(16)]
    assert set(chosen) == {"X-ray|Bones|Lesion type", "X-ray|Kidney|Lesion type",
                           "X-ray|Lung|Lesion type"}  # every tied candidate can win


def test_most_training_items_wins_up_to_the_budget():
    lattice = _with(FULL, **{"X-ray_Lung_Lesion type": {"n_train": 500}})
    chosen, picks = related_selection(TARGET, lattice, seed=0)
    assert chosen[0].subset == "X-ray|Lung|Lesion type"
    assert picks[0].decided_by == "most training items"
    # with a per-subset budget of 100 both fill it: the tie goes on to the next rules
    _, picks = related_selection(TARGET, lattice, seed=0, budget=100)
    assert picks[0].decided_by == "seeded draw"


def test_then_the_closest_label_space():
    lattice = _with(
        FULL,
        **{"X-ray_Brain_Lesion type": {"labels": LESION},
           "X-ray_Lung_Lesion type": {"labels": ("Cyst", "Nodule")},
           "X-ray_Kidney_Lesion type": {"labels": LESION},
           "X-ray_Bones_Lesion type": {"labels": (*LESION, "Other")},
           "CT_Brain_Lesion type": {"labels": (*LESION, "Other")},
           "MRI_Brain_Lesion type": {"labels": ("Cyst", "Nodule", "Other", "Tumour")},
           "Ultrasound_Brain_Lesion type": {"labels": ("Cyst", "Nodule", "Other")}},
    )
    target = lattice["X-ray|Brain|Lesion type"]
    chosen, picks = related_selection(target, lattice, seed=0)
    assert [c.subset for c in chosen] == ["X-ray|Kidney|Lesion type", "CT|Brain|Lesion type"]
    assert [p.decided_by for p in picks] == ["closest label space"] * 2


def test_lattice_from_table_collects_label_spaces():
    table = pa.table({
        "record_id": list("abcd"), "subset": ["s1", "s1", "s1", "g"],
        "modality": ["CT"] * 3 + ["Photo"], "area": ["Lung"] * 3 + ["Scene"],
        "task": ["Lesion type"] * 4, "split": ["train"] * 4,
        "labels": [["Nodule"], ["Cyst"], ["Nodule"], ["Cyst"]],
    })
    lattice = lattice_from_table(table)
    assert lattice["s1"].labels == ("Cyst", "Nodule") and not lattice["s1"].general
    assert lattice["g"].general


# ---- general-domain data: in every trained arm, never a CG source ----------------------------

GENERAL = {
    f"Photo|Scene|{t}": SubsetInfo(f"Photo|Scene|{t}", "Photo", "Scene", t, n_train=100,
                                   n_test=20)
    for t in TASKS
}
WITH_GENERAL = {**FULL, **GENERAL}
ALL_ARMS = ["related", "unrelated", "only_modality", "only_area", "only_task", "target_trained",
            "untrained", "general_only"]


@pytest.mark.parametrize("seed", range(6))
def test_general_data_is_never_a_cg_source_and_mixed_into_every_trained_arm(seed):
    plan = plan_target(TARGET, WITH_GENERAL, ALL_ARMS, budget_per_subset=60, seed=seed,
                       general_items=300)
    arms = {a.name: a for a in plan.arms}
    for arm in plan.arms:
        assert not set(arm.budgets) & set(GENERAL), arm.name
        if arm.name == "untrained":
            assert arm.general == {} and arm.n_train == 0
        else:
            assert arm.general == {k: 75 for k in GENERAL}, arm.name
    assert arms["general_only"].budgets == {} and arms["general_only"].n_train == 300
    n_rel = arms["related"].n_train
    assert all(arms[n].n_train == n_rel for n in ("unrelated", "only_task", "only_area"))
    assert plan.to_dict()["arms"][0]["general"] == {k: 75 for k in sorted(GENERAL)}
    # without general_items nothing is mixed in, and the general subsets stay out all the same
    plain = plan_target(TARGET, WITH_GENERAL, ALL_ARMS[:-1], budget_per_subset=60, seed=seed)
    assert all(a.general == {} and not set(a.budgets) & set(GENERAL) for a in plain.arms)


@pytest.mark.parametrize(
    ("target", "kwargs", "message"),
    [("Photo|Scene|Lesion type", {}, "general-domain data"),
     ("X-ray|Brain|Lesion type", {"general_items": 401}, "holds 400 general-domain"),
     ("X-ray|Brain|Lesion type", {"arms": ["general_only"]}, "needs general_items"),
     ],
)
def test_general_refusals(target, kwargs, message):
    kwargs = {"arms": ["related"], **kwargs}
    with pytest.raises(MedmatError, match=message):
        plan_target(WITH_GENERAL[target], WITH_GENERAL, **kwargs)


def test_check_plan_refuses_unequal_or_non_general_mixes():
    mix = {"Photo|Scene|Location": 10}
    unequal = Plan(TARGET, (Arm("related", {"CT|Brain|Lesion type": 10}, general=mix),
                            Arm("unrelated", {"CT|Lung|Location": 10})))
    with pytest.raises(MedmatError, match="different general-domain mixes"):
        check_plan(unequal, WITH_GENERAL)
    medical = {"CT|Lung|Location": 10}
    bad = Plan(TARGET, (Arm("related", {"CT|Brain|Lesion type": 10}, general=medical),))
    with pytest.raises(MedmatError, match="not a general-domain"):
        check_plan(bad, WITH_GENERAL)
