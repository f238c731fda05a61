"""The main job: on the default lab related beats unrelated; on the null lab it does not.

These run the real quickstart (the embedded config), so they are slow-marked but run in CI.
"""

from __future__ import annotations

import pytest

from medmat.cli.quickstart_cmd import quickstart_config
from medmat.experiment import run_experiment


def check_metrics_shape(m: dict, null: bool) -> None:
    assert m["lab"]["null"] is null and m["seeds"] == [0] and m["schema_version"] == 2
    assert len(m["targets"]) >= 2
    for t in m["targets"]:
        assert set(t["target"]) >= {"modality", "area", "task"}
        for name in ("related", "unrelated", "target_trained", "untrained"):
            arm = t["arms"][name]
            assert {"accuracy", "ci95", "n", "train_subsets"} <= set(arm)
        assert {"diff", "ci95"} <= set(t["diffs"]["related_minus_unrelated"])


@pytest.mark.slow
def test_quickstart_default_lab_shows_a_cg_gain(tmp_path):
    m = run_experiment(quickstart_config(), tmp_path).to_dict()
    check_metrics_shape(m, null=False)
    for t in m["targets"]:
        gain = t["diffs"]["related_minus_unrelated"]
        assert gain["ci95"][0] > 0, (t["target"], gain)
        # untrained is chance: the built-in model knows nothing before training
        untrained = t["arms"]["untrained"]
        assert untrained["ci95"][0] <= untrained["chance"] <= untrained["ci95"][1]
    assert (tmp_path / "report.md").read_text().count("| CG gain |") == len(m["targets"])


@pytest.mark.slow
def test_quickstart_null_lab_gain_interval_includes_zero(tmp_path):
    m = run_experiment(quickstart_config(null=True), tmp_path).to_dict()
    check_metrics_shape(m, null=True)
    for t in m["targets"]:
        gain = t["diffs"]["related_minus_unrelated"]
        assert gain["ci95"][0] <= 0 <= gain["ci95"][1], (t["target"], gain)
        # the null lab is not trivially unlearnable: the target itself can be learned
        tt = t["arms"]["target_trained"]
        assert tt["ci95"][0] > tt["chance"], (t["target"], tt)
