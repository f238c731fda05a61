"""Same items => byte-identical exports; the CLI prints what it wrote."""

from __future__ import annotations

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
    assert code == 2 and "--force" in err
    code, _, err = _run(["export", str(items_dir), "--format", "nope", "--out", str(out)],
                        capsys)
    assert code == 2 and "nope" in err
    code, stdout, _ = _run(["export", str(items_dir), "--format", "medmat-json", "--by-subset",
                            "--images", "reference", "--split", "val", "--out",
                            str(tmp_path / "mm")], capsys)
    assert code == 0 and "Subset--22-val.json" in stdout and "images/" not in stdout
    assert sorted(p.name for p in (tmp_path / "mm").iterdir()) == [
        "Subset--03-val.json", "Subset--22-val.json", "Subset--26-val.json", "manifest.json"]
