"""Letter-bias readings and the `python -m medmat.report` entry point."""

from __future__ import annotations

import json

import pytest

from medmat.report import letter_gap
from medmat.report.__main__ import main


def test_gap_from_predicted_and_gold_counts():
    gap = letter_gap({"predicted": {"A": 30, "B": 10}, "gold": {"A": 20, "B": 20}})
    assert gap.letter == "A" and gap.predicted == pytest.approx(0.75)
    assert gap.gold == pytest.approx(0.5) and gap.gap == pytest.approx(0.25)


def test_gap_from_shares_only_against_uniform():
    gap = letter_gap({"A": 0.1, "B": 0.1, "C": 0.7, "D": 0.1})
    assert gap.letter == "C" and gap.gap == pytest.approx(0.45)


def test_gap_given_by_the_runner():
    gap = letter_gap({"max_gap": 0.3, "letter": "B", "predicted": {"A": 1}})
    assert (gap.gap, gap.letter) == (0.3, "B")


@pytest.mark.parametrize("bias", [None, {}, "A", {"predicted": "x"}, {"A": -1}, {"A": 0}])
def test_unreadable_bias_is_none(bias):
    assert letter_gap(bias) is None


def test_malformed_bias_is_a_clear_error_naming_the_field(tmp_path, capsys, make_metrics):
    m = make_metrics()
    m["targets"][0]["arms"]["related"]["letter_bias"] = "A mostly"
    with pytest.raises(SystemExit) as info:
        main([str(_save(m, tmp_path)), "-q"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "targets[0].arms.related.letter_bias" in err and "Traceback" not in err
    assert not (tmp_path / "report.md").exists()


def _save(metrics, folder):
    path = folder / "metrics.json"
    path.write_text(json.dumps(metrics, sort_keys=True))
    return path


def test_module_entry_writes_next_to_metrics_and_prints_summary(
    tmp_path, capsys, monkeypatch, make_metrics
):
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps cells on narrow terminals
    _save(make_metrics(), tmp_path)
    main([str(tmp_path), "--out", str(tmp_path / "rep")])
    out = capsys.readouterr().out
    assert "CG gain" in out and "no evidence" in out and "report.md" in out
    assert (tmp_path / "rep" / "lattice.png").is_file()


def test_module_entry_error_exits_2(tmp_path, capsys, make_metrics):
    m = make_metrics()
    del m["targets"]
    with pytest.raises(SystemExit) as info:
        main([str(_save(m, tmp_path))])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "targets: missing field" in err and str(tmp_path / "metrics.json") in err
    assert not (tmp_path / "report.md").exists()
