"""The three-source design: the one-element-per-source rule checked independently on the
catalog, and `medmat study run` end to end on a tiny lab (rows, Holm and BH as pairwise)."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from medmat.catalog import load_catalog
from medmat.cli.study_cmd import command
from medmat.evaluate.results import load_result
from medmat.io import read_json
from medmat.study.catalog_plan import plan_design
from medmat.study.results import load_study_result
from medmat.study.run import run_study

TINY = ["--n-train", "40", "--n-test", "24", "--lab-size", "32", "--seeds", "0,1",
        "--backend-options", "{epochs: 2, batch_size: 16, image_size: 16, width: 8, hidden: 32}"]


def test_catalog_sources_each_share_exactly_one_element():
    plan = plan_design("three-source")
    assert plan.rows, "the catalog has three-source combinations"
    mat = {s.no: (s.modality, s.area, s.task) for s in load_catalog().subsets}
    for r in plan.rows:
        t = mat[r.target.no]
        for src, element in ((r.a, 0), (r.b, 1), (r.c, 2)):
            shared = [i for i in range(3) if mat[src.no][i] == t[i]]
            assert shared == [element], (r.name, src.no)
        assert sum(r.unrelated.values()) == sum(r.related.values())
        for sub in r.unrelated:
            assert all(mat[sub][i] != t[i] for i in range(2))
    assert sum(r.primary for r in plan.rows) == len(plan.targets)


@pytest.mark.slow
def test_study_run_rows_agree_with_the_experiments(tmp_path):
    out = tmp_path / "ts"
    res = CliRunner().invoke(command, ["three-source", "--lab", *TINY, "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((out / "plan.csv").open()))
    assert [(r["source_a"], r["source_b"], r["source_c"]) for r in rows] == [
        ("xray-kidney-abnormal", "ct-brain-severity", "mri-lung-lesion"),
        ("ct-brain-severity", "mri-lung-lesion", "xray-kidney-abnormal")]
    result = run_study(out, log=lambda _line: None)
    assert load_study_result(read_json(out / "metrics.json")) == result
    assert result.design == "three-source" and len(result.combinations) == 2
    for c, row in zip(result.combinations, rows, strict=True):
        assert c.source_c == row["source_c"] and c.direction == "three_source"
        t = load_result(read_json(out / "runs" / c.experiment / "metrics.json")).targets[0]
        gain = t.diffs["related_minus_unrelated"]
        assert c.gain.value == gain.diff and c.gain.ci95 == gain.ci95
        assert c.related.value == t.arms["related"].accuracy
        assert c.unrelated.value == t.arms["unrelated"].accuracy
        assert c.untrained.value == t.arms["untrained"].accuracy
        # an uninformative verdict (a flagged related arm) never counts, whatever its interval
        assert c.succeeds == (gain.ci95[0] > 0 and not c.verdict.startswith("uninformative"))
    ps = sorted(c.p_value for c in result.combinations)  # Holm by hand for two tests
    holm = sorted(c.p_holm for c in result.combinations)
    assert holm == pytest.approx([min(1, 2 * ps[0]), min(1, max(2 * ps[0], ps[1]))])
    assert result.n_succeed == sum(c.succeeds for c in result.combinations)
    text = (out / "report.md").read_text()
    assert "ct-brain-severity + C: mri-lung-lesion" in text
    assert (out / "gains.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
