"""`medmat study run` on the synthetic lab: end to end, resumed after an interruption.

Sizes are tiny (48 training items per cell, 2 epochs of a small model): the arms are mostly
degenerate, which is fine here: these tests check the machinery (every number of the study's
metrics.json against the experiments' own, the multiplicity rule, resumption), not CG itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from medmat.cli.study_cmd import command
from medmat.evaluate.degenerate import CG_GAIN, UNINFORMATIVE
from medmat.evaluate.results import load_result
from medmat.experiment import runner as runner_module
from medmat.io import read_json
from medmat.study.results import StudyResult, load_study_result
from medmat.study.run import run_study

TINY = ["--n-train", "48", "--n-test", "24", "--lab-size", "32", "--seeds", "0,1",
        "--backend-options", "{epochs: 2, batch_size: 16, image_size: 16, width: 8, hidden: 32}"]
OUTPUTS = ("metrics.json", "report.md", "gains.png")


def plan(out: Path, design: str = "pairwise", *extra: str) -> None:
    res = CliRunner().invoke(command, [design, "--lab", "--targets", "xray-brain-lesion", *TINY,
                                       *extra, "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output


def study_metrics(out: Path) -> StudyResult:
    return load_study_result(read_json(out / "metrics.json"), str(out / "metrics.json"))


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A study killed after its first experiment, then resumed with `medmat study run`."""
    out = tmp_path_factory.mktemp("study") / "default"
    plan(out)
    real = runner_module.run_experiment
    calls: list[str] = []

    def killed_on_the_second(config, out_dir, **kwargs):
        calls.append(Path(out_dir).name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(config, out_dir, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner_module, "run_experiment", killed_on_the_second)
        with pytest.raises(KeyboardInterrupt):
            run_study(out)
    assert not (out / "metrics.json").exists()
    first = out / "runs" / calls[0]
    done = {p: p.stat().st_mtime_ns for p in first.rglob("*")
            if p.is_file() and p.name not in ("run-log.txt", "plan.json")}  # fmt: skip
    res = CliRunner().invoke(command, ["run", str(out)])
    assert res.exit_code == 0, res.output
    return out, calls[0], done, res.output


def test_resumed_study_reuses_the_finished_experiment(interrupted):
    out, first, done, output = interrupted
    assert len(done) > 5 and all(p.stat().st_mtime_ns == t for p, t in done.items())
    log = (out / "runs" / first / "run-log.txt").read_text()
    assert "training" not in log and "scoring" not in log and "reused" in log
    others = [p for p in (out / "runs").iterdir() if p.name != first]
    assert len(others) == 2 and all("training" in (p / "run-log.txt").read_text() for p in others)
    assert (out / "lab" / "records.parquet").is_file()  # one lab, shared by every experiment
    assert not any((p / "lab").exists() for p in (out / "runs").iterdir())
    assert "combinations succeed" in output and "Holm" in output


def test_study_metrics_agree_with_each_experiment(interrupted):
    out = interrupted[0]
    result = study_metrics(out)
    assert result.design == "pairwise" and result.source == "lab" and result.seeds == (0, 1)
    assert result.lab is not None and not result.lab.null
    assert len(result.combinations) == 3
    assert {c.direction for c in result.combinations} == {"fixed_modality", "fixed_area",
                                                          "fixed_task"}
    for c in result.combinations:
        exp = load_result(read_json(out / "runs" / c.experiment / "metrics.json"))
        t = exp.targets[0]
        assert c.target.subset == t.target.subset == "xray-brain-lesion"
        for arm in ("related", "unrelated", "untrained"):
            assert getattr(c, arm).value == t.arms[arm].accuracy
            assert getattr(c, arm).ci95 == t.arms[arm].ci95
        gain = t.diffs["related_minus_unrelated"]
        assert (c.gain.value, c.gain.ci95, c.n_seeds) == (gain.diff, gain.ci95, 2)
        # an uninformative verdict (a flagged related arm) never counts, whatever its interval
        assert c.succeeds == (gain.ci95[0] > 0 and not c.verdict.startswith("uninformative"))
        b = gain.n_boot
        share = gain.p_value / 2 if gain.diff > 0 else max(0.5, 1 - gain.p_value / 2)
        if gain.diff > 0 and gain.p_value >= 1:
            share = 1.0
        assert c.p_value == pytest.approx((b * share + 1) / (b + 1))
        assert c.verdict == next(v.verdict for v in t.verdicts
                                 if v.question == "related vs unrelated")  # fmt: skip
        if c.verdict.startswith(UNINFORMATIVE):  # the experiment's reasons are on record
            assert c.flags or "zero-width" in c.verdict
        if any(f.startswith("related/") for f in c.flags):  # the arm under test is degenerate
            assert c.verdict.startswith(UNINFORMATIVE)
    assert result.n_succeed == sum(c.succeeds for c in result.combinations)
    # Holm by brute force: m * p for the smallest, (m - 1) * p for the next, running maximum
    ps = sorted(c.p_value for c in result.combinations)
    steps = [min(1.0, (3 - i) * p) for i, p in enumerate(ps)]
    want = sorted(max(steps[: i + 1]) for i in range(3))
    assert sorted(c.p_holm for c in result.combinations) == pytest.approx(want)
    for c in result.combinations:
        for p, verdict in ((c.p_holm, c.verdict_holm), (c.p_bh, c.verdict_bh)):
            gain = p <= 0.05 and not c.verdict.startswith(UNINFORMATIVE)
            assert (verdict == CG_GAIN) == gain


def test_report_and_figure(interrupted):
    out = interrupted[0]
    result = study_metrics(out)
    md = (out / "report.md").read_text(encoding="utf-8")
    assert f"{result.n_succeed} of 3 combinations succeed" in md
    assert "Holm" in md and "Benjamini-Hochberg" in md and "false discovery rate" in md
    assert all(c.source_a in md and c.source_b in md for c in result.combinations)
    assert (out / "gains.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_finished_study_reruns_to_identical_files(interrupted):
    out = interrupted[0]
    before = {name: (out / name).read_bytes() for name in OUTPUTS}
    run_study(out)
    assert {name: (out / name).read_bytes() for name in OUTPUTS} == before
    for folder in (out / "runs").iterdir():
        assert "training" not in (folder / "run-log.txt").read_text()


@pytest.mark.slow
def test_interrupted_and_uninterrupted_studies_agree(interrupted, tmp_path):
    out = interrupted[0]
    fresh = tmp_path / "fresh"
    plan(fresh)
    run_study(fresh)
    for name in OUTPUTS:
        assert (fresh / name).read_bytes() == (out / name).read_bytes(), name


@pytest.mark.slow
def test_null_lab_verdicts_come_from_the_corrected_p_values(tmp_path):
    out = tmp_path / "null"
    plan(out, "pairwise", "--null")
    result = run_study(out)
    assert result.lab is not None and result.lab.null
    assert "negative control" in (out / "report.md").read_text(encoding="utf-8")
    m = result.multiplicity
    assert m is not None and m.family == 3
    for c in result.combinations:
        assert (c.verdict_holm == CG_GAIN) == (c.p_holm <= 0.05
                                               and not c.verdict.startswith(UNINFORMATIVE))
        assert (c.verdict_bh == CG_GAIN) == (c.p_bh <= 0.05
                                             and not c.verdict.startswith(UNINFORMATIVE))
        assert c.p_holm >= c.p_bh >= c.p_value  # Holm is never less strict than BH
    assert m.n_gain_holm <= m.n_gain_bh <= result.n_combinations


@pytest.mark.slow
def test_ablation_runs_and_tabulates_each_arm(tmp_path):
    out = tmp_path / "ablation"
    plan(out, "ablation")
    result = run_study(out)
    (target,) = result.ablation
    exp = load_result(read_json(out / "runs" / "ablation-xray-brain-lesion" / "metrics.json"))
    t = exp.targets[0]
    names = [a.name for a in target.arms]
    assert set(names) == set(t.arms) and {"all_related", "untrained", "all_unrelated"} <= set(
        names)
    for arm in target.arms:
        assert arm.accuracy.value == t.arms[arm.name].accuracy
        if arm.name == "untrained":
            assert arm.minus_untrained is None
        else:  # the same paired bootstrap as the experiment's own contrast
            d = t.diffs[f"{arm.name}_minus_untrained"]
            assert (arm.minus_untrained.value, arm.minus_untrained.ci95) == (d.diff, d.ci95)
        if arm.name == "all_related":
            assert arm.minus_all_related is None
        else:
            want = arm.accuracy.value - t.arms["all_related"].accuracy
            assert arm.minus_all_related.value == pytest.approx(want)
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## xray-brain-lesion" in md and "| all_related |" in md
    assert not (out / "gains.png").exists()
