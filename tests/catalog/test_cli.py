"""`medmat catalog`: filters, table, CSV/JSON/PNG outputs, and clear errors for bad arguments."""

from __future__ import annotations

import csv
import json

import pytest
from PIL import Image

from medmat.catalog import load_catalog
from medmat.cli import main


def run(capsys, *args):
    """Run the CLI like a user would; return (exit code, stdout, stderr)."""
    try:
        main(["catalog", *args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_table_with_upstream_spelling_filter(capsys):
    code, out, _ = run(capsys, "--modality", "X-Ray", "--area", "lung")
    assert code == 0
    assert "4 subsets (modality=X-ray, area=Lung)" in out
    for no in ("28", "30", "47", "48"):
        assert f"│ {no} " in out
    assert "│ 03 " not in out  # CT lung is filtered out


def test_datasets_csv_and_json(tmp_path, capsys):
    csv_path, json_path = tmp_path / "o" / "covid.csv", tmp_path / "o" / "covid.json"
    code, _, err = run(capsys, "--kind", "datasets", "--task", "covid19", "--csv", str(csv_path),
                       "--json", str(json_path), "-q")  # fmt: skip
    assert code == 0 and "wrote csv" in err
    expected = [d for d in load_catalog().datasets if d.task == "COVID-19"]
    with open(csv_path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["no"]) for r in rows] == [d.no for d in expected]
    assert {r["task"] for r in rows} == {"COVID-19"}
    assert rows[0]["released"] == "true" and "modality_raw" in rows[0]
    doc = json.loads(json_path.read_text(encoding="utf-8"))
    assert doc["kind"] == "datasets" and doc["filters"] == {"task": "COVID-19"}
    assert doc["count"] == len(expected) == len(doc["entries"])
    assert doc["entries"][0]["no"] == expected[0].no


def test_json_carries_recorded_fixes(tmp_path, capsys):
    path = tmp_path / "bones.json"
    code, out, _ = run(capsys, "--kind", "subsets", "--modality", "US", "--json", str(path),
                       "--fixes")  # fmt: skip
    assert code == 0 and "recorded fixes" in out
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert any(f["row"] == "43" and f["field"] == "area" for f in doc["fixes"])


def test_lattice_png_is_deterministic(tmp_path, capsys):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert run(capsys, "-q", "--lattice", str(a), "--count", "datasets")[0] == 0
    assert run(capsys, "-q", "--lattice", str(b), "--count", "datasets")[0] == 0
    assert a.read_bytes() == b.read_bytes()
    with Image.open(a) as img:
        assert img.format == "PNG" and img.width > 300 and img.height > 200
    c = tmp_path / "c.png"
    assert run(capsys, "-q", "--lattice", str(c), "--modality", "CT")[0] == 0
    assert c.read_bytes() != a.read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--modality", "Ultrasond"], "Closest known terms: 'Ultrasound'"),
        (["--area", "Elbow"], "unknown area 'Elbow' (in the area filter)"),
        (["--task", "astrology"], "MEDMAT_TAXONOMY"),
        (["--lattice", "{tmp}/lattice.jpg"], "use a path ending in .png"),
        (["--count", "datasets"], "--count only applies to the lattice"),
        (["--csv", "{tmp}/x.out", "--json", "{tmp}/x.out"], "must name different files"),
        (["--lattice", "{tmp}/e.png", "--modality", "OCT", "--area", "Lung"], "nothing to draw"),
    ],
)
def test_bad_arguments_are_clear_errors_and_write_nothing(tmp_path, capsys, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    before = sorted(tmp_path.iterdir())
    code, _, err = run(capsys, *args, "--json", str(tmp_path / "side.json")) if "--json" not in \
        args else run(capsys, *args)  # fmt: skip
    assert code == 2
    assert err.startswith("error: ") and message in err
    assert sorted(tmp_path.iterdir()) == before  # nothing partial, not even the side output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "tables"], "'tables' is not one of 'datasets', 'subsets'"),
        (["--count", "rows"], "'rows' is not one of"),
        (["--nope"], "No such option"),
        (["--csv", "{tmp}"], "is a directory"),
    ],
)
def test_click_rejects_bad_choices(tmp_path, capsys, args, message):
    code, _, err = run(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert code == 2 and message in err


def test_empty_result_is_reported(tmp_path, capsys):
    path = tmp_path / "none.csv"
    code, out, _ = run(capsys, "--modality", "OCT", "--area", "Lung", "--csv", str(path))
    assert code == 0 and "nothing matches" in out
    assert path.read_text(encoding="utf-8").count("\n") == 1  # header only


def test_help_lists_options(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for opt in (
        "--modality",
        "--area",
        "--task",
        "--kind",
        "--csv",
        "--json",
        "--lattice",
        "--count",
    ):
        assert opt in out
