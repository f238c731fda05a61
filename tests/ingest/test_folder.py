"""Image folders: class folders, split folders, conversions, hostile files, determinism."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from medmat.errors import MedmatError
from medmat.imaging import open_image, pixel_sha1
from medmat.ingest import ingest
from medmat.records import read_records


def _split_tree(root, h, per_class=3):
    seed = 0
    for split in ("train", "test"):
        for cls in ("Névus, atypique", "normal"):
            for i in range(per_class):
                h.write_image(root / split / cls / f"img ({i}).jpg", seed, fmt="JPEG")
                seed += 1


def test_split_folders_are_kept_and_labels_survive(tmp_path, h):
    _split_tree(tmp_path / "ds", h)
    (tmp_path / "ds" / "README.md").write_text("about this set")
    report = ingest(tmp_path / "ds", "folder", tmp_path / "out", **h.MAT)
    recs = read_records(tmp_path / "out")
    assert len(recs) == 12
    assert {r.split for r in recs} == {"train", "test"}
    assert {r.labels for r in recs} == {("Névus, atypique",), ("normal",)}
    rec = h.by_id(tmp_path / "out")["test/Névus, atypique/img (2).jpg"]
    assert rec.split == "test" and rec.image == "images/test/Névus, atypique/img (2).png"
    assert (rec.modality, rec.area, rec.task) == ("X-ray", "Lung", "COVID-19")
    img = open_image(tmp_path / "out" / rec.image)
    assert pixel_sha1(img) == rec.pixel_sha1 and rec.phash is not None
    assert report["splits"]["origin"] == "source"
    assert any("README.md" in i for i in report["ignored"])
    on_disk = json.loads((tmp_path / "out" / "ingest-report.json").read_text("utf-8"))
    assert on_disk["counts"]["records"] == 12 and on_disk["counts"]["skipped"] == 0


def test_mixed_split_and_class_folders_refused(tmp_path, h):
    h.write_image(tmp_path / "ds" / "train" / "a" / "1.png", 1)
    h.write_image(tmp_path / "ds" / "cats" / "2.png", 2)
    with pytest.raises(MedmatError, match="split folders .* beside other folders"):
        ingest(tmp_path / "ds", "folder", tmp_path / "out", **h.MAT)
    assert not (tmp_path / "out").exists()


def test_derived_split_is_stratified_image_level_and_deterministic(tmp_path, h):
    root = tmp_path / "ds"
    for cls in ("a", "b"):
        for i in range(20):
            h.write_image(root / cls / f"{i:02d}.png", hash((cls, i)) % 10_000)
    # the same pixels under two names must land in the same split
    h.write_image(root / "a" / "dup.png", hash(("a", 3)) % 10_000)
    report = ingest(root, "folder", tmp_path / "o1", **h.MAT)
    recs = h.by_id(tmp_path / "o1")
    assert report["splits"]["origin"] == "derived"
    for cls in ("a", "b"):
        tests = [r for r in recs.values() if r.labels == (cls,) and r.split == "test"]
        assert 1 <= len(tests) <= 3  # ~10% of each label
    assert recs["a/dup.png"].split == recs["a/03.png"].split
    assert report["cross_split_duplicates"] == []
    ingest(root, "folder", tmp_path / "o2", **h.MAT)
    assert h.tree(tmp_path / "o1") == h.tree(tmp_path / "o2")  # byte-identical
    ingest(root, "folder", tmp_path / "o3", seed=7, **h.MAT)
    assert [r.split for r in read_records(tmp_path / "o3")] != [r.split for r in recs.values()]


def test_awkward_modes_are_converted_not_rejected(tmp_path, h):
    root = tmp_path / "ds" / "x"
    root.mkdir(parents=True)
    Image.fromarray((np.arange(144).reshape(12, 12) * 400).astype(np.uint16)).save(root / "16.png")
    h.write_image(root / "cmyk.jpg", 1, fmt="JPEG", mode="CMYK")
    h.write_image(root / "pal.png", 2, mode="P")
    h.write_image(root / "alpha.png", 3, mode="RGBA")
    h.write_image(root / "grey.tif", 4, fmt="TIFF", mode="L")
    ingest(tmp_path / "ds", "folder", tmp_path / "out", test_frac=0.0, **h.MAT)
    recs = h.by_id(tmp_path / "out")
    assert set(recs) == {"x/16.png", "x/cmyk.jpg", "x/pal.png", "x/alpha.png", "x/grey.tif"}
    with Image.open(tmp_path / "out" / recs["x/16.png"].image) as im:
        assert im.mode == "L"  # 16-bit -> 8-bit grey
        assert im.getextrema()[1] > 200  # stretched, not clipped to black
    for key in ("x/cmyk.jpg", "x/alpha.png"):
        with Image.open(tmp_path / "out" / recs[key].image) as im:
            assert im.mode == "RGB"


def test_hostile_files_in_class_folders(tmp_path, h):
    root = tmp_path / "ds"
    h.write_image(root / "ok" / "good.png", 1)
    h.write_truncated_png(root / "ok" / "trunc.png", 2)
    (root / "ok" / "empty.png").write_bytes(b"")
    (root / "ok" / "text.png").write_text("not an image")
    h.write_bomb_png(root / "ok" / "bomb.png")
    outside = h.write_image(tmp_path / "secret.png", 3)
    os.symlink(outside, root / "ok" / "link.png")
    (root / ".DS_Store").write_bytes(b"junk")
    with pytest.raises(MedmatError) as err:
        ingest(root, "folder", tmp_path / "out", **h.MAT)
    msg = str(err.value)
    assert "5 of 6 row(s) cannot be ingested; nothing was written" in msg
    assert "ok/trunc.png" in msg and "not a readable image" in msg
    assert "ok/empty.png" in msg and "empty file (0 bytes)" in msg
    assert "ok/text.png" in msg
    assert "ok/bomb.png" in msg and "decompression bomb" in msg
    assert "ok/link.png" in msg and "outside the dataset root" in msg
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.*"))  # staging folder cleaned up
    report = ingest(root, "folder", tmp_path / "out", on_error="skip", test_frac=0.0, **h.MAT)
    assert report["counts"] == {**report["counts"], "records": 1, "skipped": 5, "rows": 6}
    reasons = {s["item"]: s["reason"] for s in report["skipped"]}
    assert set(reasons) == {"ok/trunc.png", "ok/empty.png", "ok/text.png", "ok/bomb.png",
                            "ok/link.png"}


def test_symlinked_folder_not_followed(tmp_path, h):
    h.write_image(tmp_path / "elsewhere" / "x.png", 1)
    h.write_image(tmp_path / "ds" / "a" / "y.png", 2)
    os.symlink(tmp_path / "elsewhere", tmp_path / "ds" / "a" / "sub")
    report = ingest(tmp_path / "ds", "folder", tmp_path / "out", test_frac=0.0, **h.MAT)
    assert report["counts"]["records"] == 1
    assert any("symlinked folder" in i for i in report["ignored"])


def test_unknown_label_with_label_space(tmp_path, h):
    h.write_image(tmp_path / "ds" / "covid" / "1.png", 1)
    h.write_image(tmp_path / "ds" / "cat" / "2.png", 2)
    with pytest.raises(MedmatError, match=r"cat/2.png: unknown label 'cat'"):
        ingest(tmp_path / "ds", "folder", tmp_path / "out", labels=("covid", "normal"), **h.MAT)


def test_missing_mat_flags_is_a_clear_error(tmp_path, h):
    h.write_image(tmp_path / "ds" / "a" / "1.png", 1)
    with pytest.raises(MedmatError, match="pass --modality ... --area ... --task ..."):
        ingest(tmp_path / "ds", "folder", tmp_path / "out")
    with pytest.raises(MedmatError, match="modality"):
        ingest(tmp_path / "ds", "folder", tmp_path / "out", modality="Telepathy", area="Lung",
               task="COVID-19")
