"""`medmat leakage`: the report file, the terminal summary, --fail-on-leak and errors."""

from __future__ import annotations

import json

from medmat.cli import main


def _run(argv, capsys):
    code = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_writes_report(planted, tmp_path, capsys):
    out = tmp_path / "reports" / "leak.json"
    code, stdout, _ = _run(["leakage", str(planted["a"]), str(planted["b"]), "--out", str(out)],
                           capsys)
    assert code == 0
    data = json.loads(out.read_text())
    assert data["summary"]["exact_groups"] == 1 and data["summary"]["near_groups"] == 3
    assert "4 val/test record(s) duplicate a training image" in stdout
    assert "t-jpeg" in stdout


def test_cli_options(planted, tmp_path, capsys):
    out = tmp_path / "r.json"
    _run(["leakage", str(planted["a"]), "--out", str(out), "--no-near", "--rehash"], capsys)
    data = json.loads(out.read_text())
    assert data["near"] is False and data["summary"]["near_groups"] == 0
    assert data["tables"][0]["hashed_now"] == 15
    _run(["leakage", str(planted["a"]), "--out", str(out), "--threshold", "0"], capsys)
    assert json.loads(out.read_text())["threshold"] == 0


def test_fail_on_leak_still_writes_report(planted, tmp_path, capsys):
    out = tmp_path / "r.json"
    code, _, err = _run(["leakage", str(planted["a"]), "--out", str(out), "--fail-on-leak"],
                        capsys)
    assert code == 2 and "error: 3 val/test record(s) duplicate training images" in err
    assert out.exists()


def test_cli_errors_write_nothing(planted, tmp_path, capsys):
    out = tmp_path / "r.json"
    (planted["b"] / "images/22/test/b-12.png").write_bytes(b"")
    code, _, err = _run(["leakage", str(planted["b"]), "--out", str(out)], capsys)
    assert code == 2 and "b-12" in err and "empty file" in err
    code, _, err = _run(["leakage", str(tmp_path / "missing"), "--out", str(out)], capsys)
    assert code == 2 and "records table not found" in err
    code, _, err = _run(["leakage", str(planted["a"]), "--out", str(out), "--threshold", "99"],
                        capsys)
    assert code == 2 and "threshold" in err
    assert not out.exists()
    assert list(tmp_path.glob(".r.json*")) == []


def test_cli_warns_about_giant_near_groups(tmp_path, capsys, helpers):
    # 25 pictures differing in one pixel: distinct pixels, identical perceptual hash
    base = helpers.distinct_image(7)
    entries = []
    for i in range(25):
        img = base.copy()
        img.putpixel((i, 0), (255, 255, 255))
        entries.append((f"r{i:02d}", "train" if i % 2 else "test", img, "01"))
    root = helpers.write_table(tmp_path / "u", entries)
    out = tmp_path / "r.json"
    code, stdout, _ = _run(["leakage", str(root), "--out", str(out)], capsys)
    assert code == 0
    assert "warning:" in stdout and "25 members" in " ".join(stdout.split())
    data = json.loads(out.read_text())
    assert data["summary"]["largest_group"] == 25 and data["summary"]["near_groups"] == 1
    assert data["groups"][0]["crosses_splits"] is True
