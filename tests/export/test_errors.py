"""Bad input: a clear message, and nothing written (no output folder, no temp leftovers)."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from medmat.errors import MedmatError
from medmat.export import FORMATS, export


def _assert_nothing_written(parent, name="out"):
    assert not (parent / name).exists()
    assert [p.name for p in parent.iterdir() if p.name.startswith(f".{name}.")] == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_image_writes_nothing(fresh_items, tmp_path, fmt):
    root = json.loads((fresh_items / "summary.json").read_text())["image_root"]
    (tmp_path / "copy/records/Bones_X-ray/test/Fractured/img (0).png").unlink()
    assert root.endswith("copy/records")
    with pytest.raises(MedmatError, match=r"img \(0\)\.png: image file not found"):
        export(fresh_items, fmt, tmp_path / "out")
    _assert_nothing_written(tmp_path)


def test_corrupt_image_and_escaping_path(fresh_items, tmp_path, resign):
    bad = tmp_path / "copy/records/Brain_MRI/val/Glioma/img (0).jpg"
    bad.write_bytes(bad.read_bytes()[:40])
    with pytest.raises(MedmatError, match="not a readable image"):
        export(fresh_items, "hf", tmp_path / "out")
    _assert_nothing_written(tmp_path)
    table = pq.read_table(fresh_items / "items.parquet")
    images = table.column("image").to_pylist()
    images[0] = "../../secret.png"
    table = table.set_column(table.schema.get_field_index("image"), "image", pa.array(images))
    pq.write_table(table, fresh_items / "items.parquet")
    resign(fresh_items)
    with pytest.raises(MedmatError, match="escapes the dataset root"):
        export(fresh_items, "vlmevalkit", tmp_path / "out", splits=["train"])
    _assert_nothing_written(tmp_path)


def test_argument_errors(items_dir, tmp_path):
    with pytest.raises(MedmatError, match="unknown; choose one of llamafactory"):
        export(items_dir, "csv", tmp_path / "out")
    with pytest.raises(MedmatError, match="--name 'a b'"):
        export(items_dir, "hf", tmp_path / "out", name="a b")
    with pytest.raises(MedmatError, match="--images 'link'"):
        export(items_dir, "hf", tmp_path / "out", images="link")
    with pytest.raises(MedmatError, match=r"--split validation: no such items.*train, val, test"):
        export(items_dir, "hf", tmp_path / "out", splits=["validation"])
    with pytest.raises(MedmatError, match="not a folder"):
        export(tmp_path / "nowhere", "hf", tmp_path / "out")
    _assert_nothing_written(tmp_path)


def test_summary_problems(fresh_items, tmp_path, resign):
    summary = json.loads((fresh_items / "summary.json").read_text())
    (fresh_items / "summary.json").write_text(json.dumps({**summary, "image_root": ""}))
    resign(fresh_items)
    with pytest.raises(MedmatError, match="no 'image_root' entry"):
        export(fresh_items, "hf", tmp_path / "out")
    (fresh_items / "summary.json").write_text(json.dumps({**summary, "image_root": "gone"}))
    resign(fresh_items)
    with pytest.raises(MedmatError, match="is not a folder"):
        export(fresh_items, "hf", tmp_path / "out")
    (fresh_items / "summary.json").write_text("{not json")
    resign(fresh_items)
    with pytest.raises(MedmatError, match="not valid JSON"):
        export(fresh_items, "hf", tmp_path / "out")
    (fresh_items / "summary.json").unlink()
    resign(fresh_items)
    with pytest.raises(MedmatError, match="summary.json: not found"):
        export(fresh_items, "hf", tmp_path / "out")
    (fresh_items / "items.parquet").unlink()
    with pytest.raises(MedmatError, match="QA items not found"):
        export(fresh_items, "hf", tmp_path / "out")
    _assert_nothing_written(tmp_path)


def test_relative_image_root_is_relative_to_items_dir(fresh_items, tmp_path, resign):
    summary = json.loads((fresh_items / "summary.json").read_text())
    (fresh_items / "summary.json").write_text(json.dumps({**summary, "image_root": "../records"}))
    resign(fresh_items)
    res = export(fresh_items, "medmat-json", tmp_path / "out", splits=["val"])
    assert res.counts == {"val": 3}


def test_bad_items_table(fresh_items, tmp_path, resign):
    table = pq.read_table(fresh_items / "items.parquet")
    pq.write_table(table.drop_columns(["options"]), fresh_items / "items.parquet")
    resign(fresh_items)
    with pytest.raises(MedmatError, match=r"lacks column\(s\) \['options'\]"):
        export(fresh_items, "hf", tmp_path / "out")
    ids = table.column("id").to_pylist()
    ids[1] = ids[0]
    pq.write_table(table.set_column(0, "id", pa.array(ids, pa.int64())),
                   fresh_items / "items.parquet")
    resign(fresh_items)
    with pytest.raises(MedmatError, match="duplicate item id 0"):
        export(fresh_items, "hf", tmp_path / "out")
    pq.write_table(table.slice(0, 0), fresh_items / "items.parquet")
    resign(fresh_items)
    with pytest.raises(MedmatError, match="no items to export"):
        export(fresh_items, "hf", tmp_path / "out")
    _assert_nothing_written(tmp_path)


def test_existing_output_is_kept_unless_overwrite(items_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    for overwrite in (False, True):  # a folder medmat did not make is never replaced
        with pytest.raises(MedmatError, match="not made by medmat"):
            export(items_dir, "vlmevalkit", out, overwrite=overwrite)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    (out / "keep.txt").unlink()
    export(items_dir, "vlmevalkit", out, splits=["val"])
    with pytest.raises(MedmatError, match="pass --force"):  # an earlier export: only with force
        export(items_dir, "vlmevalkit", out, splits=["test"])
    res = export(items_dir, "vlmevalkit", out, overwrite=True, splits=["test"])
    assert res.files == ["medmat.tsv"]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "medmat.tsv"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no stage or backup left
    (tmp_path / "file").write_text("x")
    with pytest.raises(MedmatError, match="not a folder"):
        export(items_dir, "hf", tmp_path / "file")
    # an empty existing folder is simply filled
    (tmp_path / "empty").mkdir()
    export(items_dir, "vlmevalkit", tmp_path / "empty", splits=["val"])
    assert (tmp_path / "empty" / "medmat.tsv").exists()


def test_output_inside_inputs_is_refused(fresh_items, tmp_path):
    with pytest.raises(MedmatError, match="inside the input folder"):
        export(fresh_items, "hf", fresh_items / "hf")
    with pytest.raises(MedmatError, match="contains the input"):
        export(fresh_items, "hf", fresh_items.parent, overwrite=True)
    assert (fresh_items / "items.parquet").exists()


def test_missing_datasets_library(items_dir, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_datasets(name, *args, **kwargs):
        if name == "datasets":
            raise ImportError("no datasets")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_datasets)
    for fmt in ("hf", "lmms-eval"):
        with pytest.raises(MedmatError, match=r"pip install 'medmat\[export\]'"):
            export(items_dir, fmt, tmp_path / "out")
    _assert_nothing_written(tmp_path)


def test_current_folder_is_not_an_output(items_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.txt").write_text("x")
    with pytest.raises(MedmatError, match="choose a dedicated output folder"):
        export(items_dir, "hf", ".", overwrite=True)
    assert (tmp_path / "mine.txt").exists()


def test_edited_build_is_refused(fresh_items, tmp_path):
    # the build's manifest no longer matches its files: the export refuses to mix two builds
    summary = json.loads((fresh_items / "summary.json").read_text())
    (fresh_items / "summary.json").write_text(json.dumps({**summary, "seed": 7}))
    with pytest.raises(MedmatError, match="summary.json changed since the build; rebuild"):
        export(fresh_items, "hf", tmp_path / "out")
    _assert_nothing_written(tmp_path)
