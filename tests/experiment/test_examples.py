"""The shipped example configs stay valid (they are documentation users copy)."""

from __future__ import annotations

from pathlib import Path

from medmat.experiment import load_config
from medmat.experiment.planning import lattice_for, plan_experiment

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_data_efficiency_example_plans_on_its_own_lattice():
    cfg = load_config(EXAMPLES / "data-efficiency.yaml")
    (plan,) = plan_experiment(cfg, lattice_for(cfg))
    arms = {a.name: a for a in plan.arms}
    assert arms["related_plus_50"].target_items == 50
    assert arms["related_plus_200"].n_train == arms["unrelated_plus_200"].n_train == 1700
    assert arms["target_only_50"].budgets == {}
