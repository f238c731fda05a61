"""Regions at ingest from PNG masks and box tables: the records' boxes are the masks' outer
extents exactly, per image or per component, and a bad mask or box is an error or a counted
skip."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from medmat.errors import MedmatError
from medmat.ingest import ingest
from medmat.regions import Region

W, H = 24, 18  # not square: a swapped width/height shows


def _extent(fg: np.ndarray) -> tuple[float, float, float, float]:
    """Outer extent of the True pixels in pixel edges, computed here from scratch."""
    cols = np.flatnonzero(fg.any(axis=0))
    rows = np.flatnonzero(fg.any(axis=1))
    return (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1))


def _mask(seed: int, value: int = 255) -> np.ndarray:
    """Two blobs: a big one (area 5x4+) and a 2x2 one, at positions drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    m = np.zeros((H, W), np.uint8)
    y, x = int(rng.integers(0, 6)), int(rng.integers(0, 8))
    m[y:y + 5, x:x + 6] = value
    m[y + 5, x + 2] = value  # an odd pixel below: the extent is not a plain rectangle
    m[14:16, 20:22] = value
    return m


def _dataset(root, h, n=3, mask=_mask):
    for i in range(n):
        label = "tumour" if i % 2 else "normal"
        img = Image.fromarray(h.pixels(i, size=W)[:H])
        (root / label).mkdir(parents=True, exist_ok=True)
        img.save(root / label / f"im{i}.png")
        Image.fromarray(mask(i)).save(root / label / f"im{i}_mask.png")


def test_png_masks_through_the_cli_give_outer_extents(tmp_path, h, capsys):
    from medmat.cli import main

    _dataset(tmp_path / "d", h)
    out = tmp_path / "o"
    main(["ingest", str(tmp_path / "d"), "--format", "folder", "--out", str(out),
          "--mask-pattern", "{stem}_mask.png", "--test-frac", "0", "--modality", "X-ray",
          "--area", "Lung", "--task", "Lesion type"])
    assert "regions: 3 box(es) on 3 record(s)" in capsys.readouterr().out
    recs = h.by_id(out)
    assert sorted(recs) == ["normal/im0.png", "normal/im2.png", "tumour/im1.png"]
    for i, key in enumerate(sorted(recs, key=lambda k: k[-5])):
        fg = _mask(i) > 0
        rec = recs[key]
        assert rec.regions == (Region(_extent(fg), None, int(fg.sum())),)
        assert rec.mask == rec.image.replace("images/", "masks/", 1)
        with Image.open(out / rec.mask) as stored, Image.open(out / rec.image) as im:
            assert np.array_equal(np.asarray(stored), _mask(i))
            assert stored.size == im.size == (W, H)
    report = json.loads((out / "ingest-report.json").read_text())
    assert report["counts"]["regions"] == 3 and report["counts"]["masks"] == 3
    assert sorted(report["ignored"]) == [
        f"{lab}/im{i}_mask.png (mask of {lab}/im{i}.png)"
        for lab, i in (("normal", 0), ("normal", 2), ("tumour", 1))]


def test_per_component_and_min_area(tmp_path, h):
    _dataset(tmp_path / "d", h, n=1)
    fg = _mask(0) > 0
    big, small = fg.copy(), fg.copy()
    big[14:16, 20:22], small[:14] = False, False
    out = ingest(tmp_path / "d", "folder", tmp_path / "a", mask_pattern="{stem}_mask.png",
                 box_per="component", test_frac=0.0, **h.MAT)
    assert out["counts"]["regions"] == 2
    rec = h.by_id(tmp_path / "a")["normal/im0.png"]
    assert {r.box: r.area for r in rec.regions} == {
        _extent(big): int(big.sum()), _extent(small): 4}
    ingest(tmp_path / "d", "folder", tmp_path / "b", mask_pattern="{stem}_mask.png",
           box_per="component", min_area=5, test_frac=0.0, **h.MAT)
    assert h.by_id(tmp_path / "b")["normal/im0.png"].regions == (
        Region(_extent(big), None, int(big.sum())),)
    with pytest.raises(MedmatError, match="im0_mask.png: no region has 99 or more"):
        ingest(tmp_path / "d", "folder", tmp_path / "c", mask_pattern="{stem}_mask.png",
               min_area=99, test_frac=0.0, **h.MAT)


def test_label_maps_name_their_classes(tmp_path, h):
    def two_classes(i):
        m = np.zeros((H, W), np.uint8)
        m[1:4, 2:9], m[10:17, 15:20] = 1, 2
        return m

    _dataset(tmp_path / "d", h, n=1, mask=two_classes)
    ingest(tmp_path / "d", "folder", tmp_path / "o", mask_pattern="{stem}_mask.png",
           mask_labels="1=Tumor, 2=Cyst", test_frac=0.0, **h.MAT)
    assert h.by_id(tmp_path / "o")["normal/im0.png"].regions == (
        Region((2.0, 1.0, 9.0, 4.0), "Tumor", 21), Region((15.0, 10.0, 20.0, 17.0), "Cyst", 35))
    with pytest.raises(MedmatError, match=r"mask values \[2\] have no label name"):
        ingest(tmp_path / "d", "folder", tmp_path / "x", mask_pattern="{stem}_mask.png",
               mask_labels="1=Tumor", test_frac=0.0, **h.MAT)


def _broken(i):
    if i == 1:
        return np.zeros((H, W), np.uint8)  # empty
    if i == 2:
        return np.full((H + 1, W), 255, np.uint8)  # one row too many
    return _mask(i)


def test_bad_masks_fail_naming_the_file_or_are_counted_skips(tmp_path, h):
    _dataset(tmp_path / "d", h, n=4, mask=_broken)
    (tmp_path / "d" / "tumour" / "im3_mask.png").unlink()
    kwargs = {"mask_pattern": "{stem}_mask.png", "test_frac": 0.0, **h.MAT}
    with pytest.raises(MedmatError) as err:
        ingest(tmp_path / "d", "folder", tmp_path / "o", **kwargs)
    text = str(err.value)
    assert "3 of 4 row(s) cannot be ingested" in text and not (tmp_path / "o").exists()
    assert "tumour/im1_mask.png: mask has no foreground pixels" in text
    assert f"normal/im2_mask.png: mask is {W}x{H + 1} but its image is {W}x{H}" in text
    assert "im3_mask.png: mask file not found" in text
    report = ingest(tmp_path / "d", "folder", tmp_path / "o", on_error="skip", **kwargs)
    assert report["counts"]["records"] == 1 and report["counts"]["skipped"] == 3
    assert sorted(s["item"] for s in report["skipped"]) == [
        "normal/im2.png", "tumour/im1.png", "tumour/im3.png"]
    assert list(h.by_id(tmp_path / "o")) == ["normal/im0.png"]
    assert sorted(p.name for p in (tmp_path / "o" / "masks").rglob("*.png")) == ["im0.png"]


def test_table_with_masks_in_a_mirror_folder(tmp_path, h):
    root = tmp_path / "t"
    rows = ["file,label"]
    for i in range(2):
        (root / "img" / "a").mkdir(parents=True, exist_ok=True)
        (root / "seg" / "img" / "a").mkdir(parents=True, exist_ok=True)
        Image.fromarray(h.pixels(i, size=W)[:H]).save(root / "img" / "a" / f"{i}.jpg")
        Image.fromarray(_mask(i) // 255).save(root / "seg" / "img" / "a" / f"{i}.png")
        rows.append(f"img/a/{i}.jpg,{'x' if i else 'y'}")
    (root / "t.csv").write_text("\n".join(rows) + "\n")
    ingest(root / "t.csv", "csv", tmp_path / "o", mask_pattern="/seg/{dir}/{stem}.png",
           test_frac=0.0, **h.MAT)
    recs = h.by_id(tmp_path / "o")
    for i in range(2):
        fg = _mask(i) > 0
        assert recs[f"img/a/{i}.jpg"].regions == (Region(_extent(fg), None, int(fg.sum())),)


def _boxes_dataset(root, h):
    for i in range(2):
        (root / "c").mkdir(parents=True, exist_ok=True)
        Image.fromarray(h.pixels(i, size=W)[:H]).save(root / "c" / f"{i}.png")


def test_box_tables_attach_regions_by_image_path(tmp_path, h):
    _boxes_dataset(tmp_path / "d", h)
    table = tmp_path / "boxes.csv"
    table.write_text("image,x_min,y_min,x_max,y_max,label\nc/0.png,1,2,10,12,Nodule\n"
                     "./c/0.png,0,0,24,18,\n")
    ingest(tmp_path / "d", "folder", tmp_path / "o", boxes=str(table), test_frac=0.0, **h.MAT)
    recs = h.by_id(tmp_path / "o")
    assert recs["c/0.png"].regions == (Region((1.0, 2.0, 10.0, 12.0), "Nodule"),
                                      Region((0.0, 0.0, 24.0, 18.0)))
    assert recs["c/1.png"].regions is None and recs["c/0.png"].mask is None
    coco = tmp_path / "coco.json"
    coco.write_text(json.dumps({
        "images": [{"id": 7, "file_name": "c/1.png"}],
        "annotations": [{"image_id": 7, "bbox": [3, 4, 5, 6], "category_id": 1}],
        "categories": [{"id": 1, "name": "Cyst"}]}))
    ingest(tmp_path / "d", "folder", tmp_path / "p", boxes=str(coco), test_frac=0.0, **h.MAT)
    assert h.by_id(tmp_path / "p")["c/1.png"].regions == (Region((3.0, 4.0, 8.0, 10.0), "Cyst"),)


def test_bad_box_tables(tmp_path, h):
    _boxes_dataset(tmp_path / "d", h)
    table = tmp_path / "boxes.csv"
    table.write_text("image,x_min,y_min,x_max,y_max\nc/0.png,1,2,25,12\nc/1.png,0,0,4,4\n")
    kwargs = {"boxes": str(table), "test_frac": 0.0, **h.MAT}
    with pytest.raises(MedmatError, match=r"boxes.csv \(c/0.png\): box \[1.0, 2.0, 25.0, 12.0\] "
                       rf"lies outside its {W}x{H} image"):
        ingest(tmp_path / "d", "folder", tmp_path / "o", **kwargs)
    report = ingest(tmp_path / "d", "folder", tmp_path / "o", on_error="skip", **kwargs)
    assert report["counts"]["skipped"] == 1 and report["counts"]["regions"] == 1
    table.write_text("image,x_min,y_min,x_max,y_max\nc/9.png,1,2,5,12\n")
    with pytest.raises(MedmatError, match=r"1 image\(s\) not in the dataset: 'c/9.png'"):
        ingest(tmp_path / "d", "folder", tmp_path / "q", **kwargs)


@pytest.mark.parametrize(("kwargs", "msg"), [
    ({"box_per": "pixel"}, "--box-per 'pixel'"),
    ({"min_area": 0}, "--min-area 0"),
    ({"mask_labels": "1=A,x=B"}, "VALUE=NAME"),
    ({"min_area": 4}, "only used with masks"),
    ({"boxes": "b.csv", "mask_pattern": "{stem}_m.png"}, "use one"),
])
def test_region_options_are_checked(tmp_path, h, kwargs, msg):
    _boxes_dataset(tmp_path / "d", h)
    with pytest.raises(MedmatError, match=msg):
        ingest(tmp_path / "d", "folder", tmp_path / "o", **kwargs, **h.MAT)


def test_formats_without_masks_refuse_them(tmp_path, h):
    _boxes_dataset(tmp_path / "d", h)
    with pytest.raises(MedmatError, match="masks are read for --format folder, csv, nifti"):
        ingest(tmp_path / "d" / "x.npz", "medmnist", tmp_path / "o", mask_pattern="{stem}.png")
    with pytest.raises(MedmatError, match="only chooses slices"):
        ingest(tmp_path / "d", "dicom", tmp_path / "o", mask_pattern="{stem}.mask.dcm")
