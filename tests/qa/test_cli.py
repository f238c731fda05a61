"""`medmat build RECORDS --out DIR` end to end through the CLI entry point."""

from __future__ import annotations

import json

import pytest

from medmat.cli import main


def run(argv, capsys):
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_build_writes_three_files(records_dir, tmp_path, capsys):
    code, out, err = run(["build", str(records_dir), "--out", str(tmp_path / "qa"), "--seed",
                          "4"], capsys)
    assert code == 0, err
    for name in ("items.jsonl", "items.parquet", "summary.json"):
        assert (tmp_path / "qa" / name).is_file()
    summary = json.loads((tmp_path / "qa" / "summary.json").read_text())
    assert summary["seed"] == 4
    assert f"{summary['n_items']} items" in out and "chi-square" in out


def test_accepts_the_parquet_file_and_quiet(records_dir, tmp_path, capsys):
    code, out, _ = run(["build", str(records_dir / "records.parquet"), "--out",
                        str(tmp_path / "qa"), "-q"], capsys)
    assert code == 0 and out == ""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--seed", "-3"], "seed=-3"),
        (["--templates", "nope.yaml"], "templates file not found"),
        (["--batch-size", "0"], "batch_size=0"),
    ],
)
def test_errors_exit_2_with_message(records_dir, tmp_path, capsys, extra, message):
    code, _, err = run(["build", str(records_dir), "--out", str(tmp_path / "qa"), *extra],
                       capsys)
    assert code == 2 and err.startswith("error: ") and message in err


def test_missing_records_and_missing_out(tmp_path, capsys):
    code, _, err = run(["build", str(tmp_path / "none"), "--out", str(tmp_path / "qa")], capsys)
    assert code == 2 and "records table not found" in err
    code, _, err = run(["build", str(tmp_path)], capsys)
    assert code != 0 and "--out" in err


def test_single_label_subset_named_on_cli(tmp_path, capsys, make, write):
    recs = [r for r in make(20) if r.subset == "26"]
    recs = [r.__class__(**{**r.__dict__, "labels": ("Fractured",)}) for r in recs]
    code, _, err = run(["build", str(write(tmp_path / "r", recs)), "--out",
                        str(tmp_path / "qa")], capsys)
    assert code == 2 and "subset '26' has a single label" in err
