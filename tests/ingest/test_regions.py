"""Boxes from masks (outer extent, components, min-area), box tables, checks, resize and crop."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from medmat.errors import MedmatError
from medmat.ingest.regions import (
    EmptyMaskError,
    Region,
    boxes_from_mask,
    check_box,
    check_mask_size,
    crop_box,
    read_box_table,
    read_mask,
    resize_box,
)


def _extent_by_loops(fg: np.ndarray) -> tuple[int, int, int, int]:
    """The outer extent by scanning rows and columns one by one (independent of np.nonzero)."""
    rows = [r for r in range(fg.shape[0]) if any(fg[r])]
    cols = [c for c in range(fg.shape[1]) if any(fg[:, c])]
    return (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)


def test_outer_extent_of_two_blobs_is_one_box():
    mask = np.zeros((20, 30), dtype=np.uint8)
    mask[2:5, 3:7] = 255  # rows 2-4, columns 3-6
    mask[10:16, 20:25] = 255  # rows 10-15, columns 20-24
    (r,) = boxes_from_mask(mask)
    assert r == Region((3, 2, 25, 16), None, 12 + 30)


@pytest.mark.parametrize("seed", range(5))
def test_outer_extent_equals_mask_extent_random(seed):
    rng = np.random.default_rng(seed)
    mask = rng.random((37, 23)) < 0.01
    mask[rng.integers(37), rng.integers(23)] = True
    (r,) = boxes_from_mask(mask, label="lesion")
    assert r.box == _extent_by_loops(mask)
    assert r.label == "lesion" and r.area == int(mask.sum())


def test_per_component_with_min_area():
    mask = np.zeros((20, 30), dtype=bool)
    mask[2:5, 3:7] = True  # 12 px
    mask[10:16, 20:25] = True  # 30 px
    mask[18, 0] = True  # 1 px speck
    mask[5, 7] = True  # touches the first blob diagonally: same component (8-connected)
    regions = boxes_from_mask(mask, per="component")
    assert [(r.box, r.area) for r in regions] == [
        ((3, 2, 8, 6), 13), ((20, 10, 25, 16), 30), ((0, 18, 1, 19), 1)]
    big = boxes_from_mask(mask, per="component", min_area=13)
    assert [r.box for r in big] == [(3, 2, 8, 6), (20, 10, 25, 16)]
    # per image, min_area applies to the whole foreground
    assert boxes_from_mask(mask, min_area=44)[0].box == (0, 2, 25, 19)  # 12 + 30 + 1 + 1 px
    assert boxes_from_mask(mask, min_area=45) == []


def test_label_map():
    mask = np.zeros((10, 10), dtype=np.int32)
    mask[1:3, 1:4] = 2
    mask[6:9, 5:10] = 1
    mask[0, 9] = 2
    regions = boxes_from_mask(mask, labels={1: "liver", 2: "tumour"})
    assert regions == [Region((5, 6, 10, 9), "liver", 15), Region((1, 0, 10, 3), "tumour", 7)]
    comps = boxes_from_mask(mask, labels={1: "liver", 2: "tumour"}, per="component")
    assert [(r.label, r.box) for r in comps] == [
        ("liver", (5, 6, 10, 9)), ("tumour", (9, 0, 10, 1)), ("tumour", (1, 1, 4, 3))]
    with pytest.raises(MedmatError, match=r"m\.png: mask values \[2\] have no label"):
        boxes_from_mask(mask, labels={1: "liver"}, where="m.png")


def test_png_masks_binary_and_palette(tmp_path):
    arr = np.zeros((12, 16), dtype=np.uint8)
    arr[3:9, 4:11] = 255
    Image.fromarray(arr).save(tmp_path / "bin.png")
    Image.fromarray(arr > 0).save(tmp_path / "one.png")  # mode "1"
    pal = Image.fromarray((arr > 0).astype(np.uint8) * 3, mode="P")
    pal.putpalette([0, 0, 0] * 256)
    pal.save(tmp_path / "pal.png")
    for name in ("bin.png", "one.png"):
        assert boxes_from_mask(read_mask(tmp_path / name))[0].box == (4, 3, 11, 9)
    got = boxes_from_mask(read_mask(tmp_path / "pal.png"), labels={3: "cyst"})
    assert got == [Region((4, 3, 11, 9), "cyst", 42)]
    rgb = np.stack([arr, arr, np.zeros_like(arr)], axis=2)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    with pytest.raises(MedmatError, match="rgb.png: colour mask"):
        read_mask(tmp_path / "rgb.png")
    with pytest.raises(MedmatError, match="not found"):
        read_mask(tmp_path / "none.png")


def test_mask_checks():
    mask = np.zeros((4, 6), dtype=np.uint8)
    with pytest.raises(EmptyMaskError, match="a.png: mask has no foreground"):
        boxes_from_mask(mask, where="a.png")
    check_mask_size(mask, (6, 4), "a.png")
    with pytest.raises(MedmatError, match="a.png: mask is 6x4 but its image is 4x6"):
        check_mask_size(mask, (4, 6), "a.png")
    with pytest.raises(MedmatError, match="2-D array"):
        boxes_from_mask(np.zeros((2, 2, 3), dtype=np.uint8))
    with pytest.raises(MedmatError, match="min_area"):
        boxes_from_mask(mask + 1, min_area=0)
    with pytest.raises(MedmatError, match="per="):
        boxes_from_mask(mask + 1, per="slice")


def test_check_box():
    check_box((0, 0, 10, 5), (10, 5), "t.csv: row 1")
    with pytest.raises(MedmatError, match=r"t.csv: row 1: box .* outside its 10x5 image"):
        check_box((0, 0, 11, 5), (10, 5), "t.csv: row 1")
    with pytest.raises(MedmatError, match="outside"):
        check_box((-1, 0, 3, 3), (10, 5), "t.csv: row 1")
    with pytest.raises(MedmatError, match="no area"):
        check_box((3, 0, 3, 3), (10, 5), "t.csv: row 1")


def test_csv_corners_and_coco_bbox_agree(tmp_path):
    (tmp_path / "c.csv").write_text(
        "image,x_min,y_min,x_max,y_max,label\n"
        "a.png,10,20,40,60,nodule\n"
        "a.png,0,0,5,5,\n"
        "b.png,1.5,2,3.5,4,mass\n"
    )
    (tmp_path / "w.csv").write_text(
        'image,bbox,label\na.png,"[10, 20, 30, 40]",nodule\na.png,"[0,0,5,5]",\n'
        'b.png,"[1.5, 2, 2, 2]",mass\n'
    )
    rows = [{"image": "a.png", "bbox": [10, 20, 30, 40], "label": "nodule"},
            {"image": "a.png", "x_min": 0, "y_min": 0, "x_max": 5, "y_max": 5},
            {"image": "b.png", "bbox": [1.5, 2, 2, 2], "label": "mass"}]
    (tmp_path / "j.json").write_text(json.dumps(rows))
    expected = {"a.png": [Region((10, 20, 40, 60), "nodule"), Region((0, 0, 5, 5))],
                "b.png": [Region((1.5, 2, 3.5, 4), "mass")]}
    for name in ("c.csv", "w.csv", "j.json"):
        assert read_box_table(tmp_path / name) == expected


def test_coco_document(tmp_path):
    doc = {"images": [{"id": 7, "file_name": "x.png", "width": 50, "height": 40}],
           "categories": [{"id": 1, "name": "polyp"}],
           "annotations": [{"image_id": 7, "category_id": 1, "bbox": [5, 6, 10, 20]}]}
    (tmp_path / "coco.json").write_text(json.dumps(doc))
    assert read_box_table(tmp_path / "coco.json") == {"x.png": [Region((5, 6, 15, 26), "polyp")]}
    doc["annotations"][0]["bbox"] = [45, 6, 10, 20]  # reaches x = 55 > width 50
    (tmp_path / "coco.json").write_text(json.dumps(doc))
    with pytest.raises(MedmatError, match=r"coco.json: row 1: box .* outside its 50x40"):
        read_box_table(tmp_path / "coco.json")
    doc["annotations"][0]["image_id"] = 8
    (tmp_path / "coco.json").write_text(json.dumps(doc))
    with pytest.raises(MedmatError, match="image_id 8"):
        read_box_table(tmp_path / "coco.json")


@pytest.mark.parametrize(("text", "match"), [
    ("image,x_min,y_min,x_max,y_max\na.png,10,20,5,60\n", "row 1: box .* no area"),
    ("image,x_min,y_min,x_max,y_max\na.png,10,20,abc,60\n", "row 1: x_max='abc' is not a num"),
    ("image,x_min,y_min,x_max,y_max\na.png,10,20,nan,60\n", "not a finite"),
    ("image,x_min,y_min\na.png,10,20\n", "row 1: no box"),
    ("image,bbox\na.png,\"[1,2,3]\"\n", r"must be \[x, y, w, h\]"),
    ("image,bbox\na.png,[1,2,3,4]\n", "row 1: more fields than the header"),
    ("image,bbox\na.png,\"[1,2,0,3]\"\n", "no area"),
    ("x_min,y_min,x_max,y_max\n1,2,3,4\n", "needs an 'image'"),
    ("image,x_min,y_min,x_max,y_max\na.png,0,0,20,20\n", "outside its 10x10"),
])
def test_bad_tables(tmp_path, text, match):
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(MedmatError, match=match):
        read_box_table(tmp_path / "t.csv", image_sizes={"a.png": (10, 10)})


def test_resize_follows_nearest_neighbour_mask_resize():
    mask = np.zeros((10, 12), dtype=np.uint8)
    mask[3:7, 2:5] = 255
    (r,) = boxes_from_mask(mask)
    up = np.asarray(Image.fromarray(mask).resize((36, 20), Image.Resampling.NEAREST))
    assert resize_box(r.box, (12, 10), (36, 20)) == boxes_from_mask(up)[0].box == (6, 6, 15, 14)
    back = resize_box(resize_box(r.box, (12, 10), (36, 20)), (36, 20), (12, 10))
    assert back == pytest.approx(r.box)
    # any size there and back again
    assert resize_box(resize_box(r.box, (12, 10), (7, 13)), (7, 13), (12, 10)) == pytest.approx(
        r.box)


@pytest.mark.parametrize("crop", [(0, 0, 12, 10), (1, 2, 9, 8), (3, 4, 5, 6), (4, 0, 12, 10)])
def test_crop_equals_cropped_mask(crop):
    mask = np.zeros((10, 12), dtype=np.uint8)
    mask[3:7, 2:5] = 255
    (r,) = boxes_from_mask(mask)
    left, top, right, bottom = crop
    cropped = np.asarray(Image.fromarray(mask).crop(crop))
    assert crop_box(r.box, crop) == boxes_from_mask(cropped)[0].box
    # shifting back lands inside the original box (exactly it when the crop holds the box)
    x1, y1, x2, y2 = crop_box(r.box, crop)
    restored = (x1 + left, y1 + top, x2 + left, y2 + top)
    assert r.box[0] <= restored[0] and restored[2] <= r.box[2]
    if left <= 2 and top <= 3 and right >= 5 and bottom >= 7:
        assert restored == r.box


def test_crop_missing_the_box():
    assert crop_box((2, 3, 5, 7), (6, 0, 12, 10)) is None
    assert crop_box((2, 3, 5, 7), (5, 0, 12, 10)) is None  # touches the edge only
