"""write_report on a hand-made metrics dict: text, plots, determinism, variants, errors."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmat.errors import MedmatError
from medmat.report import format_table, parse_metrics, rich_table, verdict, write_report

FILES = ("report.md", "accuracy.png", "lattice.png")


@pytest.fixture(scope="module")
def written(tmp_path_factory, make_metrics) -> Path:
    out = tmp_path_factory.mktemp("report")
    path = write_report(make_metrics(), out)
    assert path == out / "report.md"
    return out


def _row(text: str, start: str) -> str:
    """The markdown table row that starts with ``start`` (exactly one must exist)."""
    rows = [line for line in text.splitlines() if line.startswith(start)]
    assert len(rows) == 1, (start, rows)
    return rows[0]


def _section(text: str, heading: str) -> str:
    part = text.split(heading, 1)[1]
    return part.split("\n### ", 1)[0].split("\n## ", 1)[0]


def test_report_tables_show_every_arm(written, make_metrics):
    text = (written / "report.md").read_text()
    m = make_metrics()
    for target in m["targets"]:
        subset = target["target"]["subset"]
        section = _section(text, f"(`{subset}`)\n")
        for name, arm in target["arms"].items():
            row = _row(section, f"| `{name}` |")
            lo, hi = arm["ci95"]
            assert f"| {100 * arm['accuracy']:.1f}% |" in row
            assert f"| [{100 * lo:.1f}, {100 * hi:.1f}] |" in row
            assert f"| {arm['n']} |" in row and row.endswith(f"| {arm['n_train']} |")
            for s in arm["train_subsets"]:
                assert f"`{s}`" in row
        assert f"chance {100 * target['arms']['untrained']['chance']:.1f}%" in section
    # other contrasts of target 1 are listed, the gain itself only in the summary
    assert "| related − untrained | +37.5 | [+29.0, +46.0] | 0.0005 |" in text
    assert "| related − unrelated |" not in text


def test_report_verdicts_run_facts_and_plots(written):
    text = (written / "report.md").read_text()
    gains = _section(text, "## Summary")
    assert _row(gains, "| X-ray · Brain").endswith("| +37.0 | [+29.0, +45.0] | <0.001 | CG gain |")
    assert _row(gains, "| CT · Bones").endswith("| +2.5 | [−7.0, +12.0] | 0.61 | no evidence |")
    assert "CG gain on 1 of 2 targets." in text
    assert "Wall time" not in text  # metrics (and so the report) are a pure function of data
    assert "- Seed: 0." in text and "`builtin`" in text
    assert "synthetic MAT lab (seed 0, size 64)" in text and "Negative control" not in text
    assert "](accuracy.png)" in text and "](lattice.png)" in text
    assert "**related** trains on subsets" in text and "upper bound" in text


def test_letter_bias_flags_only_the_biased_arm(written):
    notes = _section((written / "report.md").read_text(), "## Answer quality")
    flagged = [line for line in notes.splitlines() if line.startswith("- ")]
    # unrelated of target 1 answers A 120/200 times vs 50/200 gold; everything else is flat
    assert flagged == [
        '- X-ray · Brain · Lesion type, arm `unrelated`: answers "A" 60.0% of the time vs '
        "25.0% in the gold answers (gap 35.0 points)."
    ]


def test_threshold_controls_letter_bias_flags(tmp_path, make_metrics):
    from medmat.report import build_markdown

    report = parse_metrics(make_metrics())
    assert "arm `unrelated`: answers" in build_markdown(report, 0.3)
    # the biased arm's gap is exactly 35 points: not "more than" 35
    text = build_markdown(report, 0.35)
    assert "No arm's predicted letter shares differ from the gold shares by more than 35" in text
    with pytest.raises(MedmatError, match="letter_bias_threshold"):
        write_report(make_metrics(), tmp_path / "x", letter_bias_threshold=2)


def test_pngs_are_valid_images(written):
    for name, min_size in (("accuracy.png", (500, 350)), ("lattice.png", (600, 300))):
        with Image.open(written / name) as im:
            im.verify()
        with Image.open(written / name) as im:
            assert im.format == "PNG"
            assert im.size[0] >= min_size[0] and im.size[1] >= min_size[1], im.size
            assert im.size[0] <= 6000 and im.size[1] <= 6000
            assert "Software" not in im.info and "Creation Time" not in im.info


def _colours(path: Path) -> set[tuple[int, int, int]]:
    with Image.open(path) as im:
        return {c for _, c in im.convert("RGB").getcolors(maxcolors=1 << 20)}


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))


def test_plots_use_the_arm_and_role_colours(written, tmp_path, make_metrics):
    acc = _colours(written / "accuracy.png")
    for colour in ("#2ca02c", "#1f77b4", "#9467bd", "#7f7f7f", "#d62728"):  # arms + chance line
        assert _rgb(colour) in acc, colour
    lattice = _colours(written / "lattice.png")
    for colour in ("#8fd18f", "#9cc3e6", "#e3e3e3", "#fde0e0", "#d62728"):
        assert _rgb(colour) in lattice, colour
    # with no unrelated training anywhere, no cell is painted blue except the legend's swatch
    m = make_metrics()
    for target in m["targets"]:
        target["arms"]["unrelated"]["train_subsets"] = []
    write_report(m, tmp_path)
    with Image.open(written / "lattice.png") as a, Image.open(tmp_path / "lattice.png") as b:
        blue = _rgb("#9cc3e6")
        count = [int((np.asarray(im.convert("RGB")) == blue).all(axis=-1).sum()) for im in (a, b)]
    assert count[1] < count[0] / 3, count


def test_rerun_is_byte_identical_also_from_saved_json(written, tmp_path, make_metrics):
    write_report(make_metrics(), tmp_path / "again")
    # the runner's metrics.json has sorted keys: the report must not depend on key order
    roundtrip = json.loads(json.dumps(make_metrics(), sort_keys=True))
    write_report(roundtrip, tmp_path / "json")
    for name in FILES:
        first = (written / name).read_bytes()
        assert (tmp_path / "again" / name).read_bytes() == first, name
        assert (tmp_path / "json" / name).read_bytes() == first, name


def test_real_records_table_and_extra_arms(tmp_path, make_metrics):
    m = make_metrics()
    m["lab"] = None
    extra = copy.deepcopy(m["targets"][0]["arms"]["related"])
    extra.update(accuracy=0.41, ci95=[0.34, 0.48], train_subsets=["xray-lung-lesion"],
                 name="only_modality")
    m["targets"][0]["arms"]["only_modality"] = extra  # present in one target only
    text = write_report(m, tmp_path).read_text()
    assert "Data: a real records table (not the synthetic lab)." in text
    assert "non-null" not in text and "Negative control" not in text
    assert "| `only_modality` | 41.0% | [34.0, 48.0] |" in text
    table = format_table(m)
    header = table.splitlines()[0]
    assert header.index("untrained") < header.index("only_modality")
    assert _row(table, "| CT Bones Fracture").count("| — |") == 1  # no only_modality there
    for name in FILES:
        assert (tmp_path / name).stat().st_size > 0


def test_null_lab_is_stated_and_a_gain_warned_about(tmp_path, make_metrics):
    m = make_metrics()
    m["lab"]["null"] = True
    text = write_report(m, tmp_path).read_text()
    assert text.startswith("# medmat compositional-generalization experiment (negative control)")
    assert "> **Negative control (null lab).**" in text
    assert "Expected in the null lab: no CG gain on any target." in text
    assert "**Warning:** CG gain in the negative control." in text
    m["targets"] = m["targets"][1:]  # only the "no evidence" target: nothing to warn about
    text = write_report(m, tmp_path).read_text()
    assert "Negative control (null lab)" in text and "**Warning:**" not in text


def test_multi_seed_and_no_answer_columns(make_metrics):
    m = make_metrics()
    m["seeds"] = [0, 1, 2]
    arm = m["targets"][0]["arms"]["related"]
    arm.update(per_seed=[0.6, 0.62, 0.64], mean=0.62, sd=0.02, no_answer=7)
    from medmat.report import build_markdown

    text = build_markdown(parse_metrics(m))
    assert "- Seeds: 0, 1, 2." in text
    section = _section(text, "(`xray-brain-lesion`)\n")
    assert "| no answer | per seed: mean ± sd (values) |" in section
    assert _row(section, "| `related` |").endswith("| 7 | 62.0 ± 2.0 (60.0, 62.0, 64.0) |")
    assert "arm `related`: 7 of 200 answers had no option letter" in text
    assert "no answer" not in _section(text, "(`ct-bones-fracture`)\n")


@pytest.mark.parametrize(
    ("ci", "expected"),
    [((0.01, 0.2), "CG gain"), ((-0.05, 0.1), "no evidence"), ((0.0, 0.1), "no evidence"),
     ((-0.3, -0.01), "negative"), (None, "no evidence")],
)  # fmt: skip
def test_verdict(ci, expected):
    assert verdict(ci) == expected


def test_format_and_rich_table(make_metrics):
    m = make_metrics()
    table = format_table(m)
    assert _row(table, "| X-ray Brain Lesion type").endswith(
        "| 62.0% | 25.0% | 91.0% | 24.5% | +37.0 [+29.0, +45.0] | CG gain |"
    )
    assert _row(table, "| CT Bones Fracture").endswith("| no evidence |")
    from rich.console import Console

    buf = io.StringIO()
    Console(file=buf, width=200, color_system=None).print(rich_table(m))
    out = buf.getvalue()
    assert "CG gain" in out and "no evidence" in out and "+37.0 [+29.0, +45.0]" in out
    assert "gain [95% CI]" in out and "source" in out
    from medmat.report.tables import table_console

    # pytest captures stdout (not a terminal): tables get 160 columns, not rich's 80
    assert table_console().width == 160


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda m: m.pop("targets"), "targets: missing field"),
        (lambda m: m.update(targets={}), "targets: Input should be a valid tuple"),
        (lambda m: m.update(targets=[]), "empty list"),
        (lambda m: m["targets"][1]["arms"]["related"].pop("accuracy"),
         "targets[1].arms.related.accuracy: missing field"),
        (lambda m: m["targets"][0]["arms"]["untrained"].update(ci95=[0.3, 0.1]),
         "targets[0].arms.untrained.ci95: Value error, interval low"),
        (lambda m: m["targets"][0]["target"].pop("task"), "targets[0].target.task: missing field"),
        (lambda m: m.pop("schema_version"), "missing field 'schema_version'"),
        (lambda m: m.update(schema_version=1), "schema version 1 is not 3"),
        (lambda m: m.update(wall_seconds=3.0), "wall_seconds: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_bad_metrics_raise_and_write_nothing(tmp_path, mutate, where, make_metrics):
    m = make_metrics()
    mutate(m)
    with pytest.raises(MedmatError, match="metrics") as info:
        write_report(m, tmp_path / "out")
    assert where in str(info.value)
    assert "medmat experiment" in str(info.value)  # says how to fix
    assert not (tmp_path / "out").exists()


def test_bad_metrics_leave_an_existing_report_untouched(written, tmp_path):
    for name in FILES:
        (tmp_path / name).write_bytes((written / name).read_bytes())
    with pytest.raises(MedmatError):
        write_report({"seed": 0}, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (written / name).read_bytes()
