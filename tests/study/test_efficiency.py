"""The efficiency design: the interpolation rule and its bootstrap interval by hand, and `medmat
study run` end to end on a tiny lab (every point against the experiment's own arms, the reach
intervals against the bootstrap recomputed from the stored predictions, efficiency.png written)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from medmat.cli.study_cmd import command
from medmat.evaluate.results import load_result
from medmat.io import read_json
from medmat.study import arm_stats
from medmat.study.efficiency import markdown, reach, reach_intervals
from medmat.study.results import (
    EfficiencyCurve,
    EfficiencyPoint,
    EfficiencyTarget,
    Estimate,
    StudyResult,
    load_study_result,
)
from medmat.study.run import run_study

TINY = ["--n-train", "40", "--n-test", "24", "--lab-size", "32", "--seeds", "0,1",
        "--backend-options", "{epochs: 2, batch_size: 16, image_size: 16, width: 8, hidden: 32}"]


def _curve(points):
    return EfficiencyCurve(name="c", points=tuple(
        EfficiencyPoint(items=x, arm=f"c_{x}", accuracy=Estimate(value=y)) for x, y in points))


def test_reach_interpolates_the_first_crossing():
    c = _curve([(0, 0.2), (10, 0.4), (20, 0.8), (30, 0.5)])
    assert reach(c, 0.6) == pytest.approx(15.0)  # halfway from 0.4 at 10 to 0.8 at 20
    assert reach(c, 0.3) == pytest.approx(5.0)
    assert reach(c, 0.1) == 0.0 and reach(c, 0.9) is None


def _const(value: int, seeds: int = 2, items: int = 30) -> np.ndarray:
    return np.full((seeds, items), bool(value))


def _split(items: int = 30) -> np.ndarray:
    """Seed 0 answers every item right, seed 1 none: a seed draw gives accuracy 0, 1/2 or 1
    with probabilities 1/4, 1/2, 1/4 whatever items are drawn."""
    return np.vstack([np.ones(items, bool), np.zeros(items, bool)])


def test_reach_interval_zero_width_without_variance_and_none_when_never_reached():
    # untrained 0, best 1 -> threshold 0.5 in every replicate; related crosses halfway 0 -> 20
    curves = {"related_target": [(0, _const(0)), (20, _const(1)), (40, _const(1))],
              "unrelated_target": [(40, _const(0)), (0, _const(0)), (20, _const(0))]}
    got = reach_intervals(_const(0), curves, 50, n_boot=500, seed=3)
    assert got["related_target"].ci95 == (10.0, 10.0)
    assert got["related_target"].not_reached == 0.0
    assert got["unrelated_target"].ci95 == (None, None)
    assert got["unrelated_target"].not_reached == 1.0


def test_reach_interval_pairs_the_item_draw_across_arms():
    # one seed, mixed items: the untrained accuracy a varies with the item draw, the threshold is
    # a + (1 - a) / 2 and the crossing from a at 0 to 1 at 10 is at 5 items in every replicate
    # only when untrained and the 0 point see the same drawn items
    mixed = (np.arange(40) % 3 == 0)[None, :]
    curves = {"related_target": [(0, mixed), (10, _const(1, 1, 40))]}
    got = reach_intervals(mixed, curves, 50, n_boot=400, seed=0)["related_target"]
    assert got.ci95 == pytest.approx((5.0, 5.0)) and got.not_reached == 0.0


def test_reach_interval_widens_with_seed_variance_and_reports_not_reached():
    # threshold 0.5 (untrained 0, related_target_40 always 1). related_target_20 at accuracy
    # 1 / 0.5 / 0 reaches at 10 / 20 / 30 items: the interval is [10, 30] around the point 20.
    # unrelated_target_40 at 1 / 0.5 / 0 reaches at 20 / 40 / never: never in 1/4 of replicates,
    # so the 97.5th percentile is "not reached" (None) and the lower bound 20.
    curves = {"related_target": [(0, _const(0)), (20, _split()), (40, _const(1))],
              "unrelated_target": [(0, _const(0)), (40, _split())]}
    got = reach_intervals(_const(0), curves, 50, n_boot=2000, seed=0)
    assert got["related_target"].ci95 == (10.0, 30.0)
    assert got["related_target"].not_reached == 0.0
    assert got["unrelated_target"].ci95 == (20.0, None)
    assert got["unrelated_target"].not_reached == pytest.approx(0.25, abs=0.04)
    # the point estimates on the mean curves sit inside
    mean = {n: _curve([(x, t.mean()) for x, t in pts]) for n, pts in curves.items()}
    assert reach(mean["related_target"], 0.5) == 20.0
    assert reach(mean["unrelated_target"], 0.5) == 40.0
    # fixed seed: the same replicates again
    assert reach_intervals(_const(0), curves, 50, n_boot=2000, seed=0) == got


def test_reach_interval_rejects_arms_on_other_items():
    from medmat.errors import MedmatError

    with pytest.raises(MedmatError, match="different numbers of test items"):
        reach_intervals(_const(0, items=30), {"c": [(0, _const(1, items=29))]}, 50, n_boot=10,
                        seed=0)  # fmt: skip


def test_reach_interval_round_trips_and_prints():
    cell = {"subset": "xray-brain-lesion", "modality": "X-ray", "area": "Brain", "task": "lesion"}
    e = EfficiencyTarget(
        experiment="efficiency-1", target=cell, curves=(_curve([(0, 0.2), (10, 0.8)]),),
        threshold=0.5, reach={"related_target": 412.5, "unrelated_target": None},
        reach_rule="rule", reach_ci95={"related_target": (250.0, 700.0),
                                       "unrelated_target": (900.0, None)},
        reach_not_reached={"related_target": 0.03, "unrelated_target": 0.6},
        reach_ci_rule="ci rule")  # fmt: skip
    r = StudyResult(schema_version=1, design="efficiency", source="lab", seeds=(0, 1),
                    backend="builtin", experiments=("efficiency-1",), efficiency=(e,))
    assert load_study_result(json.loads(r.to_json())) == r
    lines = markdown(r)
    assert ("- related_target: 412.5 [250.0, 700.0] items (not reached in 3% of resamples)"
            in lines)  # fmt: skip
    assert ("- unrelated_target: not reached [900.0, not reached] items (not reached in 60% of "
            "resamples)") in lines


@pytest.mark.slow
def test_study_run_curves_agree_with_the_experiment(tmp_path):
    out = tmp_path / "ef"
    res = CliRunner().invoke(command, ["efficiency", "--lab", *TINY, "--out", str(out)])
    assert res.exit_code == 0, res.output
    result = run_study(out, log=lambda _line: None)
    assert load_study_result(read_json(out / "metrics.json")) == result
    (e,) = result.efficiency
    arms = load_result(read_json(out / "runs" / e.experiment / "metrics.json")).targets[0].arms
    curves = {c.name: c for c in e.curves}
    assert [p.items for p in curves["related"].points] == [0, 20, 40, 60, 80]
    assert [p.items for p in curves["related_target"].points] == [0, 10, 20, 30, 40]
    for c in e.curves:
        for p in c.points:
            assert p.accuracy.value == arms[p.arm].accuracy and p.accuracy.ci95 == arms[p.arm].ci95
            if p.arm != "untrained":
                assert arms[p.arm].target_items == (0 if c.name == "related" else p.items)
    best = max(p.accuracy.value for n in ("related_target", "unrelated_target")
               for p in curves[n].points)  # fmt: skip
    base = arms["untrained"].accuracy
    assert e.threshold == pytest.approx(base + 0.5 * (best - base))
    for name, got in e.reach.items():
        assert got == reach(curves[name], e.threshold)
    # the reach intervals: the bootstrap redone here from the stored predictions
    run_dir = out / "runs" / e.experiment
    exp = load_result(read_json(run_dir / "metrics.json"))
    runs = {a: arm_stats.arm_runs(run_dir, exp, a) for a in arms}
    ids = sorted(p.item_id for p in runs["untrained"][0])

    def table(arm):
        return np.array([[{p.item_id: p.correct for p in r}[i] for i in ids] for r in runs[arm]])

    again = reach_intervals(table("untrained"),
                            {n: [(p.items, table(p.arm)) for p in curves[n].points]
                             for n in ("related_target", "unrelated_target")}, 50,
                            n_boot=arm_stats.n_boot(exp), seed=exp.seeds[0])  # fmt: skip
    assert e.reach_ci95 == {n: r.ci95 for n, r in again.items()}
    assert e.reach_not_reached == {n: r.not_reached for n, r in again.items()}
    assert (out / "efficiency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![efficiency](efficiency.png)" in (out / "report.md").read_text()
