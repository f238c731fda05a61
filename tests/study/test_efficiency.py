"""The efficiency design: the interpolation rule by hand, and `medmat study run` end to end on a
tiny lab (every point against the experiment's own arms, efficiency.png written)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from medmat.cli.study_cmd import command
from medmat.evaluate.results import load_result
from medmat.io import read_json
from medmat.study.efficiency import reach
from medmat.study.results import EfficiencyCurve, EfficiencyPoint, Estimate, load_study_result
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
    assert (out / "efficiency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![efficiency](efficiency.png)" in (out / "report.md").read_text()
