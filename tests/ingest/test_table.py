"""CSV / TSV / metadata.jsonl tables, with hostile rows."""

from __future__ import annotations

import csv
import json
import os

import pytest

from medmat.errors import MedmatError
from medmat.ingest import ingest
from medmat.records import read_records


def _write_csv(path, rows, delimiter=","):
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)


@pytest.fixture
def hostile(tmp_path, h):
    """A dataset root with good images and one row of every kind of bad input."""
    root = tmp_path / "data"
    for i in range(6):
        h.write_image(root / "imgs" / f"good {i} (x).png", i)
    h.write_truncated_png(root / "imgs" / "trunc.png", 50)
    (root / "imgs" / "empty.png").write_bytes(b"")
    (root / "imgs" / "text.png").write_text("hello")
    h.write_bomb_png(root / "imgs" / "bomb.png")
    secret = h.write_image(tmp_path / "secret.png", 51)
    os.symlink(secret, root / "imgs" / "link.png")
    abs_path = h.write_image(tmp_path / "abs.png", 52)
    rows = [["file_name", "label"]]
    rows += [[f"imgs/good {i} (x).png", "Névus, atypique" if i % 2 else "normal"]
             for i in range(6)]
    bad = {
        "imgs/trunc.png": "normal",
        "imgs/empty.png": "normal",
        "imgs/text.png": "normal",
        "imgs/missing.png": "normal",
        "imgs/bomb.png": "normal",
        "imgs/link.png": "normal",
        "../secret.png": "normal",
        str(abs_path): "normal",
        "imgs/good 0 (x).png": "normal",  # listed twice
    }
    rows += [[k, v] for k, v in bad.items()]
    rows += [["imgs/good 1 (x).png", ""]]  # listed twice AND empty label
    rows += [["imgs/good 2 (x).png"]]  # short row
    _write_csv(root / "labels.csv", rows)
    return root


def test_fail_mode_names_every_bad_row_and_writes_nothing(tmp_path, hostile, h):
    out = tmp_path / "out"
    with pytest.raises(MedmatError) as err:
        ingest(hostile / "labels.csv", "csv", out, **h.MAT)
    msg = str(err.value)
    assert "11 of 17 row(s) cannot be ingested; nothing was written" in msg
    assert "--on-error skip" in msg
    assert not out.exists() and not list(tmp_path.glob(".out.*"))


def test_skip_mode_lists_each_bad_row_with_its_reason(tmp_path, hostile, h):
    out = tmp_path / "out"
    report = ingest(hostile / "labels.csv", "csv", out, on_error="skip", **h.MAT)
    assert report["counts"]["records"] == 6 and report["counts"]["skipped"] == 11
    reasons = " | ".join(f"{s['item']}: {s['reason']}" for s in report["skipped"])
    for needle in (
        "trunc.png: ", "empty file (0 bytes)", "text.png", "missing.png: image file not found",
        "decompression bomb", "outside the dataset root", "../secret.png",
        "absolute image paths are refused", "listed again", "has 1 fields, the header has 2",
    ):
        assert needle in reasons, needle
    on_disk = json.loads((out / "ingest-report.json").read_text("utf-8"))
    assert on_disk["skipped"] == report["skipped"]
    labels = {r.labels[0] for r in read_records(out)}
    assert labels == {"Névus, atypique", "normal"}


def test_empty_and_unknown_labels(tmp_path, h):
    src = tmp_path / "src"  # inputs apart: --out may not sit inside them
    src.mkdir()
    for i in range(3):
        h.write_image(src / f"{i}.png", i)
    _write_csv(src / "t.csv", [["image", "class"], ["0.png", "covid"], ["1.png", " "],
                               ["2.png", "dragon"]])
    report = ingest(src / "t.csv", "csv", tmp_path / "out", on_error="skip",
                    labels=("covid", "normal"), test_frac=0.0, **h.MAT)
    reasons = {s["item"]: s["reason"] for s in report["skipped"]}
    assert reasons == {
        "t.csv line 3: 1.png": "empty label",
        "t.csv line 4: 2.png": reasons["t.csv line 4: 2.png"],
    }
    assert reasons["t.csv line 4: 2.png"].startswith("unknown label 'dragon'")


def test_tsv_split_column_and_multilabel_separator(tmp_path, h):
    src = tmp_path / "src"  # inputs apart: --out may not sit inside them
    src.mkdir()
    for i in range(4):
        h.write_image(src / "im" / f"{i}.png", i)
    _write_csv(src / "t.tsv", [
        ["path", "findings", "split"],
        ["im/0.png", "effusion|mass, left", "Training"],
        ["im/1.png", "mass, left", "train"],
        ["im/2.png", "effusion", "validation"],
        ["im/3.png", "effusion|Névus", "test"],
    ], delimiter="\t")
    report = ingest(src / "t.tsv", "csv", tmp_path / "out", label_column="findings",
                    label_sep="|", **h.MAT)
    recs = h.by_id(tmp_path / "out")
    assert recs["im/0.png"].labels == ("effusion", "mass, left") and recs["im/0.png"].multi_label
    assert [recs[f"im/{i}.png"].split for i in range(4)] == ["train", "train", "val", "test"]
    assert report["multi_label"] is True and report["splits"]["origin"] == "source"


def test_bad_split_value_is_a_row_error(tmp_path, h):
    src = tmp_path / "src"  # inputs apart: --out may not sit inside them
    src.mkdir()
    h.write_image(src / "0.png", 0)
    _write_csv(src / "t.csv", [["file", "label", "split"], ["0.png", "a", "holdout"]])
    with pytest.raises(MedmatError, match="split 'holdout'"):
        ingest(src / "t.csv", "csv", tmp_path / "out", **h.MAT)


def test_onehot_columns_and_none_label(tmp_path, h):
    src = tmp_path / "src"  # inputs apart: --out may not sit inside them
    src.mkdir()
    for i in range(3):
        h.write_image(src / f"{i}.png", i)
    _write_csv(src / "t.csv", [["file", "Effusion", "Mass", "Ödem"], ["0.png", "1", "0", "1"],
                               ["1.png", "0", "0", "0"], ["2.png", "1", "2", "0"]])
    with pytest.raises(MedmatError, match="one-hot column 'Mass' holds '2'"):
        ingest(src / "t.csv", "csv", tmp_path / "o",
               onehot_columns=("Effusion", "Mass", "Ödem"), **h.MAT)
    report = ingest(src / "t.csv", "csv", tmp_path / "out", on_error="skip",
                    onehot_columns=("Effusion", "Mass", "Ödem"), none_label="no finding",
                    test_frac=0.0, **h.MAT)
    recs = h.by_id(tmp_path / "out")
    assert recs["0.png"].labels == ("Effusion", "Ödem") and recs["1.png"].labels == ("no finding",)
    assert report["counts"]["skipped"] == 1


def test_metadata_jsonl_in_folder_hf_style(tmp_path, h):
    root = tmp_path / "hf"
    for i in range(4):
        h.write_image(root / "train" / f"{i}.png", i)
    labels = ["a", "Névus, atypique"]
    lines = [json.dumps({"file_name": f"train/{i}.png", "labels": labels[: i % 2 + 1],
                         "patient": f"p{i // 2}"}, ensure_ascii=False) for i in range(4)]
    lines.insert(2, "{not json")
    (root / "metadata.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest(root, "csv", tmp_path / "out", on_error="skip", group_column="patient",
                    test_frac=0.5, **h.MAT)
    recs = h.by_id(tmp_path / "out")
    assert recs["train/1.png"].labels == ("a", "Névus, atypique")
    assert recs["train/0.png"].split == recs["train/1.png"].split  # same patient
    assert recs["train/2.png"].split == recs["train/3.png"].split
    assert report["skipped"][0]["item"] == "metadata.jsonl line 3"
    assert "not valid JSON" in report["skipped"][0]["reason"]


def test_table_errors_that_stop_everything(tmp_path, h):
    src = tmp_path / "src"  # inputs apart: --out may not sit inside them
    src.mkdir()
    (src / "t.csv").write_text("a,b\n1,2\n")
    with pytest.raises(MedmatError, match="which column holds the file"):
        ingest(src / "t.csv", "csv", tmp_path / "out", label_column="b", **h.MAT)
    with pytest.raises(MedmatError, match="no column 'nope'"):
        ingest(src / "t.csv", "csv", tmp_path / "out", file_column="nope", label_column="b",
               **h.MAT)
    (src / "latin.csv").write_bytes("file,label\nx.png,caf\xe9\n".encode("latin-1"))
    with pytest.raises(MedmatError, match="not UTF-8"):
        ingest(src / "latin.csv", "csv", tmp_path / "out", **h.MAT)
    with pytest.raises(MedmatError, match="group"):
        ingest(src / "t.csv", "csv", tmp_path / "out", file_column="a", label_column="b",
               group_column="patient", **h.MAT)
