"""Output rules (all or nothing, --force), the CLI, and the records contract with `build`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from medmat.cli import cli
from medmat.errors import MedmatError
from medmat.ingest import ingest
from medmat.ingest.splitting import SplitRow, assign_splits
from medmat.ingest.validate import plan_outputs
from medmat.qa import build as qa_build
from medmat.records import read_records


def _dataset(root, h, n=6):
    for i in range(n):
        h.write_image(root / ("a" if i % 2 else "b") / f"{i}.png", i)
    return root


def test_existing_output_is_refused_then_replaced_with_force(tmp_path, h):
    ds = _dataset(tmp_path / "ds", h)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    # a folder medmat did not make is never replaced, --force or not
    for force in (False, True):
        with pytest.raises(MedmatError, match="not made by medmat"):
            ingest(ds, "folder", out, force=force, **h.MAT)
    assert (out / "keep.txt").read_text() == "mine"
    (out / "keep.txt").unlink()
    ingest(ds, "folder", out, **h.MAT)
    (out / "extra.txt").write_text("stale")
    with pytest.raises(MedmatError, match="not empty .*pass --force"):
        ingest(ds, "folder", out, **h.MAT)
    ingest(ds, "folder", out, force=True, **h.MAT)  # an earlier ingest: replaced
    assert not (out / "extra.txt").exists() and (out / "records.parquet").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "out"]  # no staging left


def test_failure_leaves_existing_output_untouched_even_with_force(tmp_path, h):
    ds = _dataset(tmp_path / "ds", h)
    out = tmp_path / "out"
    ingest(ds, "folder", out, **h.MAT)
    before = h.tree(out)
    (ds / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(MedmatError, match="broken.png"):
        ingest(ds, "folder", out, force=True, **h.MAT)
    assert h.tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "out"]


def test_empty_existing_output_folder_is_fine_and_out_inside_source_refused(tmp_path, h):
    ds = _dataset(tmp_path / "ds", h)
    (tmp_path / "out").mkdir()
    ingest(ds, "folder", tmp_path / "out", **h.MAT)
    assert (tmp_path / "out" / "ingest-report.json").is_file()
    with pytest.raises(MedmatError, match="inside the input folder"):
        ingest(ds, "folder", ds / "out", **h.MAT)


def test_cli_success_summary_and_error_exit(tmp_path, h, monkeypatch):
    ds = _dataset(tmp_path / "ds", h)
    (ds / "a" / "zero.png").write_bytes(b"")
    runner = CliRunner()
    args = ["ingest", str(ds), "--format", "folder", "--modality", "xray", "--area", "lungs",
            "--task", "covid19"]
    res = runner.invoke(cli, [*args, "--out", str(tmp_path / "o1")])
    assert res.exit_code != 0 and "zero.png" in str(res.exception)
    assert not (tmp_path / "o1").exists()
    res = runner.invoke(cli, [*args, "--out", str(tmp_path / "o2"), "--on-error", "skip",
                              "--labels-file", str(_labels_file(tmp_path))])
    assert res.exit_code == 0, res.output
    assert "ingested 6 record(s) from 7 row(s)" in res.output
    assert "X-ray / Lung / COVID-19" in res.output and "skipped 1 bad row(s)" in res.output
    report = json.loads((tmp_path / "o2" / "ingest-report.json").read_text())
    assert report["skipped"][0]["item"] == "a/zero.png"
    # the real entry point turns MedmatError into "error: ..." and exit code 2
    from medmat.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--out", str(tmp_path / "o3"), "--window", "oops"])
    assert exit_info.value.code == 2


def _labels_file(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("a\nb\nNévus, atypique\n", encoding="utf-8")
    return path


def test_ingested_folder_goes_straight_into_build(tmp_path, h):
    ds = tmp_path / "ds"
    for i in range(40):
        h.write_image(ds / ["covid", "normal", "Névus, atypique"][i % 3] / f"{i} (x).png", i)
    ingest(ds, "folder", tmp_path / "recs", **h.MAT)
    summary = qa_build(tmp_path / "recs", tmp_path / "items")
    assert summary["n_items"] == 40
    records = {r.record_id: r for r in read_records(tmp_path / "recs")}
    items = [json.loads(line) for line in
             (tmp_path / "items" / "items.jsonl").read_text("utf-8").splitlines()]
    for it in items:  # test images stay test items: the split was made before the questions
        assert it["split"] == records[it["record_id"]].split
        assert (tmp_path / "recs" / it["image"]).is_file()


def test_splitting_rules():
    rows = [SplitRow(f"r{i}", ("a",) if i < 10 else ("b",), f"h{i}", None, None)
            for i in range(20)]
    splits, origin = assign_splits(rows, test_frac=0.1, val_frac=0.0, seed=0)
    assert origin == "derived" and splits.count("test") == 2
    assert "test" in splits[:10] and "test" in splits[10:]
    assert assign_splits(rows, test_frac=0.1, val_frac=0.0, seed=0)[0] == splits
    # reordering the input does not change any row's split
    rev, _ = assign_splits(rows[::-1], test_frac=0.1, val_frac=0.0, seed=0)
    assert rev[::-1] == splits
    with_val, _ = assign_splits(rows, test_frac=0.2, val_frac=0.2, seed=1)
    assert with_val.count("test") == 4 and with_val.count("val") == 4
    # groups stay together; source test split is kept verbatim
    grouped = [SplitRow(f"r{i}", ("a",), f"h{i}", f"p{i // 5}", None) for i in range(20)]
    gs, _ = assign_splits(grouped, test_frac=0.25, val_frac=0.0, seed=3)
    assert all(len({gs[j] for j in range(g * 5, g * 5 + 5)}) == 1 for g in range(4))
    assert gs.count("test") == 5
    src = [SplitRow("x", ("a",), "h", None, "test"), SplitRow("y", ("a",), "k", None, None)]
    assert assign_splits(src, test_frac=0.5, val_frac=0.0, seed=0) == (["test", "train"], "source")
    # a source with train + val but no test: test is carved from train, val stays val
    tv = [SplitRow(f"r{i}", ("a",), f"h{i}", None, "val" if i < 3 else "train") for i in range(13)]
    out, origin = assign_splits(tv, test_frac=0.1, val_frac=0.0, seed=0)
    assert origin == "derived" and out[:3] == ["val"] * 3 and out.count("test") == 1


def test_output_names_do_not_collide_or_escape():
    plan = plan_outputs(["a/x.jpg", "a/x.png", "b/y (1).jpeg", "../../evil.png", "v.nii.gz",
                         "images/c/z.png"])
    assert plan["a/x.jpg"] == "images/a/x.jpg.png" and plan["a/x.png"] == "images/a/x.png.png"
    assert plan["b/y (1).jpeg"] == "images/b/y (1).png"
    assert plan["../../evil.png"] == "images/evil.png"
    assert plan["v.nii.gz"] == "images/v.png"
    assert plan["images/c/z.png"] == "images/c/z.png"
    assert len(set(plan.values())) == len(plan)
