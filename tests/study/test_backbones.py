"""The backbones design: the seeded draw, backbone validation, the catalog plan, the paired
difference of gains (checked against a bootstrap written here), and `medmat study run` end to end
on a tiny lab with two built-in backbones."""

from __future__ import annotations

import csv
import random

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from medmat.cli.study_cmd import command
from medmat.errors import MedmatError
from medmat.evaluate import two_level_contrast, two_level_diff
from medmat.evaluate.results import load_result
from medmat.experiment.arms import PREDICTIONS, read_predictions
from medmat.io import read_json
from medmat.study.backbones import SEP, draw, read_backbones, resolve_backbones
from medmat.study.catalog_plan import plan_pairwise
from medmat.study.planner import DIRECTIONS
from medmat.study.results import load_study_result
from medmat.study.run import run_study

TINY_OPTIONS = {"epochs": 2, "batch_size": 16, "image_size": 16, "width": 8, "hidden": 32}
TINY = ["--n-train", "40", "--n-test", "24", "--lab-size", "32", "--seeds", "0,1",
        "--targets", "xray-brain-lesion"]


def test_draw_takes_k_per_direction_with_the_seed():
    plan = plan_pairwise()
    combos = plan.combinations
    chosen = draw(combos, 2, 42)
    for d in DIRECTIONS:
        names = sorted(c.name for c in combos if c.direction == d)
        got = sorted(c.name for c in chosen if c.direction == d)
        assert len(got) == min(2, len(names)) and set(got) <= set(names)
    # the first direction type has more than two: its draw is the seed's first sample
    first = sorted(c.name for c in combos if c.direction == DIRECTIONS[0])
    assert len(first) > 2
    assert sorted(c.name for c in chosen if c.direction == DIRECTIONS[0]) == sorted(
        random.Random(42).sample(first, 2))
    assert [c.name for c in draw(combos, 2, 42)] == [c.name for c in chosen]
    assert [c.name for c in draw(combos, 2, 7)] != [c.name for c in chosen]
    # the planner's order is kept
    order = [c.name for c in combos]
    assert [order.index(c.name) for c in chosen] == sorted(order.index(c.name) for c in chosen)


def test_backbones_are_validated():
    lab = resolve_backbones(None, source="lab", base_options={"builtin": {"epochs": 8}})
    assert [b.name for b in lab] == ["builtin", "builtin-wide"]
    assert lab[0].options["epochs"] == 8 and lab[1].options["width"] == 32
    cat = resolve_backbones(None, source="catalog", base_options={})
    assert all(b.backend == "hf" and b.model for b in cat)
    bad = [
        ([{"name": "one", "backend": "builtin"}], "at least two"),
        ([{"name": "a", "backend": "builtin"}, {"name": "a", "backend": "builtin"}], "unique"),
        ([{"name": "A b", "backend": "builtin"}, {"name": "c", "backend": "builtin"}], "name"),
        ([{"name": "a", "backend": "builtin", "model": "x"}, {"name": "b", "backend": "builtin"}],
         "hf backend"),
        ([{"name": "a", "backend": "builtin", "colour": 1}, {"name": "b", "backend": "builtin"}],
         "colour"),
        ([{"name": "a", "backend": "builtin", "options": {"epochs": 0}},
          {"name": "b", "backend": "builtin"}], "entry 'a'"),
    ]  # fmt: skip
    for specs, message in bad:
        with pytest.raises(MedmatError, match=message):
            resolve_backbones(specs, source="lab", base_options={})
    with pytest.raises(MedmatError, match="YAML list"):
        read_backbones("{name: a}")


def test_catalog_plan_runs_every_drawn_combination_per_backbone(tmp_path):
    out = tmp_path / "bb"
    res = CliRunner().invoke(command, ["backbones", "--catalog", "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((out / "plan.csv").open()))
    backbones = list(dict.fromkeys(r["backbone"] for r in rows))
    assert backbones == ["qwen2-vl-2b", "qwen2-vl-7b", "llava-1.5-7b"]
    per = {b: [r for r in rows if r["backbone"] == b] for b in backbones}
    combos = [r["experiment"].split(SEP, 1)[1] for r in per[backbones[0]]]
    for b in backbones:  # the same combinations for every backbone
        assert [r["experiment"].split(SEP, 1)[1] for r in per[b]] == combos
    for d in DIRECTIONS:
        assert sum(r["direction"] == d for r in per[backbones[0]]) <= 2
    configs = sorted((out / "configs").glob("*.yaml"))
    assert len(configs) == len(rows) == 3 * len(combos)
    cfg = yaml.safe_load(configs[0].read_text())
    model = {r["experiment"]: r["model"] for r in rows}[configs[0].stem]
    assert cfg["backend"] == "hf" and cfg["backend_options"]["model"] == model
    bad = CliRunner().invoke(command, ["backbones", "--catalog", "--backend", "builtin",
                                       "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "--backbones" in str(bad.exception)


def test_contrast_with_two_tables_is_the_paired_difference():
    rng = np.random.default_rng(3)
    a, b = rng.random((3, 50)) < 0.7, rng.random((3, 50)) < 0.4
    d = two_level_diff(a, b, n_boot=500, seed=1)
    c = two_level_contrast([a, b], [1.0, -1.0], n_boot=500, seed=1)
    assert c.estimate == pytest.approx(d.estimate) and c.ci95 == pytest.approx(d.ci95)
    assert c.per_seed == pytest.approx(d.per_seed)


def test_difference_of_gains_counts_seed_variance():
    # backbone B's related arm is right on every item in one seed, wrong in the other: the
    # contrast's point value is what the tables say, and its interval spans the seed spread
    items = 40
    ones, zeros = np.ones((2, items), bool), np.zeros((2, items), bool)
    related_b = np.array([np.ones(items, bool), np.zeros(items, bool)])
    c = two_level_contrast([related_b, zeros, ones, zeros], [1.0, -1.0, -1.0, 1.0],
                           n_boot=2000, seed=0)
    assert c.estimate == pytest.approx(-0.5)
    assert c.per_seed == pytest.approx((0.0, -1.0))
    assert c.ci95[0] == pytest.approx(-1.0) and c.ci95[1] == pytest.approx(0.0)
    steady = two_level_contrast([ones, zeros, ones, zeros], [1.0, -1.0, -1.0, 1.0],
                                n_boot=200, seed=0)
    assert steady.estimate == 0.0 and steady.ci95 == (0.0, 0.0) and steady.p_value == 1.0


def _table(run_dir, subset, arm, seeds):
    runs = [read_predictions(run_dir / "runs" / subset / arm / f"seed{s}" / PREDICTIONS)
            for s in seeds]
    ids = sorted(p.item_id for p in runs[0])
    return np.array([[{p.item_id: p for p in r}[i].correct for i in ids] for r in runs])


@pytest.mark.slow
def test_study_run_compares_backbones_on_the_same_items(tmp_path):
    out = tmp_path / "bb"
    specs = yaml.safe_dump([{"name": "small", "backend": "builtin", "options": TINY_OPTIONS},
                            {"name": "wider", "backend": "builtin",
                             "options": {**TINY_OPTIONS, "width": 16}}])  # fmt: skip
    res = CliRunner().invoke(command, ["backbones", "--lab", *TINY, "--backbones", specs,
                                       "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((out / "plan.csv").open()))
    assert len(rows) == 6  # xray-brain-lesion: one pair per direction type, 2 backbones
    result = run_study(out, log=lambda _line: None)
    assert load_study_result(read_json(out / "metrics.json")) == result
    assert [b.name for b in result.backbones] == ["small", "wider"]
    assert len(result.backbone_comparisons) == 3
    for b in result.backbones:
        for c in b.combinations:
            t = load_result(read_json(out / "runs" / c.experiment / "metrics.json")).targets[0]
            assert c.gain.value == t.diffs["related_minus_unrelated"].diff
    for cmp in result.backbone_comparisons:
        want = cmp.gain.value - cmp.reference_gain.value
        assert cmp.difference.value == pytest.approx(want)
        # recomputed from the saved predictions, with the study's bootstrap settings
        seeds = (0, 1)
        tables = [_table(out / "runs" / f"{b}{SEP}{cmp.combination}", cmp.target.subset, arm,
                         seeds) for b in ("wider", "small") for arm in ("related", "unrelated")]
        again = two_level_contrast(tables, [1.0, -1.0, -1.0, 1.0], n_boot=2000, seed=0)
        assert cmp.difference.ci95 == pytest.approx(again.ci95)
    report = (out / "report.md").read_text()
    assert "## Paired comparison with the reference" in report
    assert (out / "backbones.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = (out / "metrics.json").read_bytes()
    run_study(out, log=lambda _line: None)  # resumes: nothing retrains, same bytes
    assert (out / "metrics.json").read_bytes() == before
