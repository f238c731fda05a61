"""The published Med-MAT JSON files, with awkward file names, hostile items and a round trip."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from medmat.catalog import load_catalog
from medmat.errors import MedmatError
from medmat.ingest import ingest
from medmat.ingest.sources.medmat_json import parse_options
from medmat.qa import build as qa_build
from medmat.records import read_records

CLOSING = "Answer with the option's letter from the given choices directly."
LABELS = ["Glioma", "Meningioma", "No tumor", "Pituitary, adenoma (é)"]


def item(i, image, answer, options=LABELS, letter=None, data_no="45"):
    q = "What type of lesion does this brain MRI show?"
    choice = "\n".join([q, *[f"{chr(65 + k)}: {o}" for k, o in enumerate(options)], CLOSING])
    return {"id": i, "caption": answer.lower(), "image": image, "Question": q, "Answer": answer,
            "Question-choice": choice,
            "Answer-choice": letter or chr(65 + options.index(answer)), "data-no": data_no}


@pytest.fixture
def release(tmp_path, h):
    """A Med-MAT-like release: JSON files in one folder, images under another root."""
    root = tmp_path / "images root"
    base = "med-mat/Brain_MRI/Training"
    files = {
        f"{base}/glioma/g (12).jpg": "Glioma",
        f"{base}/meningioma/m (1) [copy].png": "Meningioma",
        f"{base}/no tumor/n 3.jpeg": "No tumor",
        f"{base}/pituitary/p (7).jpg": "Pituitary, adenoma (é)",
    }
    for k, rel in enumerate(files):
        fmt = "PNG" if rel.endswith(".png") else "JPEG"
        h.write_image(root / rel, 100 + k, fmt=fmt)
    h.write_image(root / "med-mat/test/g (99).png", 200)
    qa = tmp_path / "qa"
    qa.mkdir()
    train = [item(i, rel, lab) for i, (rel, lab) in enumerate(files.items())]
    (qa / "ori--45-train.json").write_text(json.dumps(train, ensure_ascii=False), "utf-8")
    test = [item(0, "med-mat/test/g (99).png", "Glioma")]
    (qa / "ori--45-test.json").write_text(json.dumps(test), "utf-8")
    return qa, root, files


def test_import_tags_mat_from_catalog_and_keeps_labels_and_paths(tmp_path, release):
    qa, root, files = release
    report = ingest(qa, "medmat-json", tmp_path / "out", images_root=str(root))
    recs = read_records(tmp_path / "out")
    entry = load_catalog().dataset(45)
    assert {(r.modality, r.area, r.task) for r in recs} == {(entry.modality, entry.area,
                                                              entry.task)}
    assert {r.subset for r in recs} == {entry.subset} and {r.source for r in recs} == {"45"}
    got = {r.record_id: r for r in recs}
    for rel, label in files.items():
        rec = got[f"ori--45-train/{rel}"]
        assert rec.labels == (label,) and rec.split == "train"
        stem = rel.rsplit(".", 1)[0]
        assert rec.image == f"images/{stem}.png"
        assert (tmp_path / "out" / rec.image).is_file()
    assert got["ori--45-test/med-mat/test/g (99).png"].split == "test"
    assert report["splits"]["origin"] == "source"
    assert report["label_space"][entry.subset] == sorted(LABELS)


def test_subset_file_uses_subset_triplet_and_unites_multilabel_answers(tmp_path, h):
    src = tmp_path / "src"  # inputs apart: --out may not sit inside them
    h.write_image(src / "x (1).png", 1)
    h.write_image(src / "y.png", 2)
    opts = ["Effusion", "Mass", "No finding"]
    items = [item(0, "x (1).png", "Effusion", opts, data_no="80"),
             item(1, "./x (1).png", "Mass", opts, data_no="80"),  # the same image, spelt apart
             item(2, "y.png", "No finding", opts, data_no="80")]
    (src / "Subset--31-train.json").write_text(json.dumps(items), "utf-8")
    ingest(src / "Subset--31-train.json", "medmat-json", tmp_path / "out", test_frac=0.0)
    recs = {r.record_id: r for r in read_records(tmp_path / "out")}
    sub = load_catalog().subset("31")
    x = recs["Subset--31-train/x (1).png"]
    assert x.labels == ("Effusion", "Mass") and x.multi_label and x.subset == "31"
    assert (x.modality, x.area, x.task) == (sub.modality, sub.area, sub.task)


def test_hostile_items(tmp_path, release, h):
    qa, root, files = release
    rel = next(iter(files))
    bad = [
        item(0, rel, "Glioma", letter="C"),  # letter points at another option
        {**item(1, rel, "Glioma"), "Answer": "Dragon"},  # not among the options
        item(2, rel, "Glioma", data_no="999"),
        item(3, "med-mat/nowhere (1).jpg", "Glioma"),
        item(4, "../../etc/passwd", "Glioma"),
        {**item(5, rel, "Glioma"), "Answer": " "},
        "not an object",
    ]
    (qa / "ori--45-val.json").write_text(json.dumps(bad), "utf-8")
    with pytest.raises(MedmatError) as err:
        ingest(qa, "medmat-json", tmp_path / "out", images_root=str(root))
    assert "7 of 12 row(s) cannot be ingested" in str(err.value)
    assert not (tmp_path / "out").exists()
    report = ingest(qa, "medmat-json", tmp_path / "out", images_root=str(root), on_error="skip")
    reasons = [s["reason"] for s in report["skipped"]]
    assert "Answer-choice 'C' does not point at Answer 'Glioma'" in reasons[0]
    assert reasons[1].startswith("unknown label: Answer 'Dragon'")
    assert "data-no '999' is not a dataset in the Med-MAT catalog" in reasons[2]
    assert "nowhere (1).jpg: image file not found" in reasons[3]
    assert "escapes the dataset root" in reasons[4]
    assert reasons[5] == "empty label" and reasons[6] == "not a JSON object"
    assert report["skipped"][3]["item"] == "ori--45-val.json item 3 (id 3): med-mat/nowhere (1).jpg"


def test_parse_options():
    text = "Q? A: not an option line\nA: x: y\nB: Névus, atypique\nD: skipped C\n" + CLOSING
    assert parse_options(text) == ["x: y", "Névus, atypique"]


@pytest.mark.slow
def test_round_trip_ingest_build_export_ingest(tmp_path, release):
    """import -> records -> `medmat build` items -> Med-MAT JSON -> import: same records."""
    qa, root, _ = release
    first = tmp_path / "first"
    ingest(qa, "medmat-json", first, images_root=str(root))
    qa_build(first, tmp_path / "items")
    items = pq.read_table(tmp_path / "items" / "items.parquet").to_pylist()
    keys = ("id", "caption", "image", "Question", "Answer", "Question-choice", "Answer-choice",
            "data-no")
    export = tmp_path / "export"
    export.mkdir()
    for split in ("train", "test"):
        rows = [{k: it[k] for k in keys} for it in items if it["split"] == split]
        (export / f"ori--45-{split}.json").write_text(json.dumps(rows, ensure_ascii=False))
    second = tmp_path / "second"
    ingest(export, "medmat-json", second, images_root=str(first))

    def strip(rec):
        return (rec.record_id.split("/", 1)[1], rec.image, rec.labels, rec.modality, rec.area,
                rec.task, rec.subset, rec.split, rec.source, rec.pixel_sha1, rec.phash)

    a = sorted(strip(r) for r in read_records(first))
    b = sorted(strip(r) for r in read_records(second))
    assert [x[1:] for x in a] == [x[1:] for x in b]
