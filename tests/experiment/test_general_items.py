"""general_items: the same general-domain items join every trained arm (issue 10)."""

from __future__ import annotations

import pytest

from medmat.errors import MedmatError
from medmat.experiment.arms import arm_training_items
from medmat.experiment.config import load_config
from medmat.experiment.planning import lattice_for, plan_experiment
from medmat.records import QAItem

CELLS = ["ct-brain-lesion", "ct-lung-lesion", "mri-brain-lesion", "xray-kidney-severity",
         "us-kidney-abnormal", "fp-bones-location", "photo-scene-lesion"]


def cfg(**overrides):
    base = {"data": {"lab": {"n_train": 40, "n_test": 8, "cells": CELLS}},
            "targets": ["ct-brain-lesion"], "budget_per_subset": 20,
            "arms": ["related", "unrelated", "target_trained", "untrained", "general_only"]}
    return load_config({**base, **overrides})


def fake_items(lattice) -> dict:
    out, k = {}, 0
    for sub in sorted(lattice):
        for split in ("train", "test"):
            rows = []
            for _ in range(40 if split == "train" else 8):
                rows.append(QAItem(id=k, record_id=f"r{k}", subset=sub, split=split,
                                   image=f"{k}.png", question="q", options=("a", "b"),
                                   answer="A", caption="", question_choice="",
                                   answer_choice="", data_no=0, modality="", area="", task=""))
                k += 1
            out[(sub, split)] = rows
    return out


def test_every_trained_arm_gets_the_same_general_items():
    c = cfg(general_items=12)
    lattice = lattice_for(c)
    (plan,) = plan_experiment(c, lattice)
    by = fake_items(lattice)
    general_ids = {it.id for it in by[("photo-scene-lesion", "train")]}
    for seed in (0, 1):
        got = {}
        for i, arm in enumerate(plan.arms):
            items = arm_training_items(plan, i, by, seed)
            got[arm.name] = sorted(it.id for it in items if it.id in general_ids)
            medical = [it for it in items if it.id not in general_ids]
            assert len(medical) == sum(arm.budgets.values()) + arm.target_items
        assert got["untrained"] == []
        trained = [v for k, v in got.items() if k != "untrained"]
        assert all(v == trained[0] for v in trained) and len(trained[0]) == 12
    # another seed draws other general items (seeded, not always the first ones)
    plan_items = [arm_training_items(plan, 0, by, s) for s in (0, 1)]
    assert {it.id for it in plan_items[0]} != {it.id for it in plan_items[1]}


def test_general_items_default_zero_and_strict():
    c = cfg(arms=["related", "untrained"])
    (plan,) = plan_experiment(c, lattice_for(c))
    assert all(a.general == {} for a in plan.arms)
    with pytest.raises(MedmatError, match="general_items"):
        cfg(general_items=-1)
    with pytest.raises(MedmatError, match="general_items"):
        cfg(general_items="10")
    big = cfg(general_items=10_000)  # more than the lab's 40 photo training items
    with pytest.raises(MedmatError, match="general_items=10000"):
        plan_experiment(big, lattice_for(big))


def test_components_arm_is_each_related_subset_alone_size_matched():
    c = cfg(arms=["related", "components"], general_items=10)
    lattice = lattice_for(c)
    (plan,) = plan_experiment(c, lattice)
    related = plan.arms[0]
    comps = {a.name: a for a in plan.arms[1:]}
    assert sorted(comps) == sorted(f"component_{s}" for s in related.budgets)
    n_rel = sum(related.budgets.values())
    for sub in related.budgets:
        arm = comps[f"component_{sub}"]
        assert arm.budgets == {sub: min(n_rel, lattice[sub].n_train)}
        assert arm.general == related.general == {"photo-scene-lesion": 10}
