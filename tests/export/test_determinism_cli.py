"""Same items => byte-identical exports; the CLI prints what it wrote; the answer parser."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from medmat.cli import main
from medmat.export import FORMATS, export


@pytest.mark.parametrize("fmt", FORMATS)
def test_exports_are_byte_identical(items_dir, tmp_path, fmt):
    a = export(items_dir, fmt, tmp_path / "a")
    b = export(items_dir, fmt, tmp_path / "b")
    assert a.files == b.files
    for f in a.files:
        if f.endswith(".yaml"):  # holds the absolute path of its own folder
            continue
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def _run(argv, capsys):
    code = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_export(items_dir, tmp_path, capsys):
    out = tmp_path / "lf"
    code, stdout, _ = _run(["export", str(items_dir), "--format", "llamafactory", "--out",
                            str(out), "--split", "train", "--name", "cg"], capsys)
    assert code == 0
    assert "exported 12 item(s) (train: 12), 12 image(s) as llamafactory" in stdout
    assert "  cg.json" in stdout and "images/ (12 file(s))" in stdout
    assert (out / "cg.json").exists() and (out / "dataset_info.json").exists()
    code, _, err = _run(["export", str(items_dir), "--format", "llamafactory", "--out",
                         str(out)], capsys)
    assert code == 2 and "--overwrite" in err
    code, _, err = _run(["export", str(items_dir), "--format", "nope", "--out", str(out)],
                        capsys)
    assert code == 2 and "nope" in err
    code, stdout, _ = _run(["export", str(items_dir), "--format", "medmat-json", "--by-subset",
                            "--images", "reference", "--split", "val", "--out",
                            str(tmp_path / "mm")], capsys)
    assert code == 0 and "Subset--22-val.json" in stdout and "images/" not in stdout
    assert sorted(p.name for p in (tmp_path / "mm").iterdir()) == [
        "Subset--03-val.json", "Subset--22-val.json", "Subset--26-val.json"]


@pytest.fixture
def parse_choice():
    path = Path(__file__).parents[2] / "src/medmat/export/lmms_eval_utils.py"
    spec = importlib.util.spec_from_file_location("lmms_utils_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.parse_choice


@pytest.mark.parametrize(("reply", "expected"), [
    ("B", "B"), ("b", "B"), (" C. ", "C"), ("(A)", "A"), ("D: Pituitary", "D"),
    ("The answer is B.", "B"), ("answer: c", "C"), ("I think (B) fits", "B"),
    ("A benign lesion is visible", None),  # a sentence starting with "A" is not option A
    ("Glioma", "A"), ("not fractured", None), ("", None), (None, None), ("E", None),
    ("Meningioma or glioma", None),
])
def test_parse_choice(parse_choice, reply, expected):
    options = ["Glioma", "Meningioma", "No tumor", "Pituitary"]
    assert parse_choice(reply, options) == expected


def test_parse_choice_prefers_longest_option(parse_choice):
    options = ["Fractured", "Not fractured"]
    assert parse_choice("Not fractured", options) == "B"
    assert parse_choice("It looks fractured.", options) == "A"
