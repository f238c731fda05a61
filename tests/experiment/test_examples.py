"""The shipped example configs stay valid (they are documentation users copy)."""

from __future__ import annotations

from pathlib import Path

from medmat.experiment import load_config
from medmat.splits import SubsetInfo, plan_target
from medmat.synth import parse_cell

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_data_efficiency_example_plans_on_its_own_lattice():
    cfg = load_config(EXAMPLES / "data-efficiency.yaml")
    n = cfg.lab["n_train"]
    lattice = {}
    for text in cfg.lab["cells"]:
        c = parse_cell(text)
        lattice[c.subset] = SubsetInfo(c.subset, c.modality, c.area, c.task, n_train=n,
                                       n_test=cfg.lab["n_test"])
    (target,) = cfg.targets
    plan = plan_target(lattice[target], lattice, cfg.arms,
                       budget_per_subset=cfg.budget_per_subset)
    arms = {a.name: a for a in plan.arms}
    assert arms["related_plus_50"].target_items == 50
    assert arms["related_plus_200"].n_train == arms["unrelated_plus_200"].n_train == 1700
    assert arms["target_only_50"].budgets == {}
