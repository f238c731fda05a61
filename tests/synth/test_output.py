"""What lands on disk: records schema, confined image paths, hashes, lab.json, contact sheet."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from medmat.errors import MedmatError
from medmat.imaging import phash, pixel_sha1, resolve_under_root
from medmat.leakage.guard import exact_cross_split_pairs
from medmat.records import RECORDS_SCHEMA, read_records, read_records_table
from medmat.synth import AREAS, MODALITIES, LabConfig, generate_lab, parse_cell
from medmat.synth.spec import Cell


def test_records_table_is_valid_and_complete(default_lab, helpers):
    table = read_records_table(default_lab)  # validates the shared schema
    # the latin lattice has detection cells: their records add the optional regions column
    assert table.schema.names == [*RECORDS_SCHEMA.names, "regions"]
    records = read_records(default_lab)
    cells = {c.subset: c for c in helpers.latin_lattice()}
    assert len(records) == len(cells) * (8 + 2 + 4)
    assert {r.split for r in records} == {"train", "val", "test"}
    for rec in records:
        cell = cells[rec.subset]
        assert (rec.modality, rec.area, rec.task) == (cell.modality, cell.area, cell.task)
        assert rec.labels[0] in cell.labels and len(rec.labels) == 1 and not rec.multi_label
        assert rec.source == "synthetic-lab"
        assert (rec.regions is not None) == cell.detection and rec.mask is None
        path = resolve_under_root(default_lab, rec.image)  # confined to the lab root
        assert path.is_file() and rec.image.startswith(f"images/{rec.subset}/{rec.split}/")
        with Image.open(path) as img:
            assert img.size == (32, 32)
            assert img.mode == ("RGB" if cell.modality in ("Fundus photography", "Microscopy")
                                else "L")
            assert pixel_sha1(img.convert("RGB")) == rec.pixel_sha1 and phash(img) == rec.phash
    assert exact_cross_split_pairs(table) == []  # splits share no image


def test_no_temporary_files_are_left(default_lab):
    names = [p.name for p in default_lab.rglob("*")]
    assert not [n for n in names if n.endswith(".tmp") or n.startswith(".")]


def test_lab_json_says_how_the_lab_was_made(default_lab, helpers):
    manifest = json.loads((default_lab / "lab.json").read_text())
    assert manifest["config"] == {"seed": 0, "null": False, "size": 32}
    assert manifest["cells"] == sorted(c.subset for c in helpers.latin_lattice())
    assert manifest["counts"] == {"train": 8, "val": 2, "test": 4}
    assert manifest["n_images"] == 30 * 14


def test_contact_sheet_has_a_row_per_modality_and_a_block_per_area(tmp_path):
    def sheet(cells, **counts):
        root = tmp_path / "-".join(c.subset for c in cells)
        generate_lab(root, cells, cfg=LabConfig(size=32), workers=1, **counts)
        with Image.open(root / "contact_sheet.png") as img:
            return img.size, img.convert("RGB")

    one = [parse_cell("xray-lung-lesion")]
    (w1, h1), img1 = sheet(one, n_train=4, n_test=0)
    (w2, h2), _ = sheet([*one, parse_cell("ct-lung-lesion"), parse_cell("ct-brain-location")],
                        n_train=4, n_test=0)
    assert w2 - w1 == 4 * 32 + 4 and h2 > h1  # one more area block, one more modality row
    assert len(np.unique(np.asarray(img1).reshape(-1, 3), axis=0)) > 20  # pictures, not blank
    (w3, _), _ = sheet([parse_cell("mri-kidney-location")], n_train=0, n_test=2)
    assert w3 < w1  # only test items exist: the sheet shows those two


def test_full_lattice_contact_sheet_and_counts(tmp_path):
    from medmat.synth import full_lattice

    path = generate_lab(tmp_path, full_lattice(), n_train=1, n_test=0, cfg=LabConfig(size=16),
                        workers=1)
    assert len(read_records(path)) == 150
    with Image.open(tmp_path / "contact_sheet.png") as img:
        w, h = img.size
    assert h > len(MODALITIES) * 16 and w > len(AREAS) * 16


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cells": []}, "lattice is empty"),
        ({"n_train": 0, "n_test": 0}, "not all zero"),
        ({"n_train": -1}, ">= 0"),
        ({"cfg": LabConfig(size=8)}, "between 16 and 512"),
        ({"workers": 0}, "at least 1 worker"),
    ],
)
def test_generate_lab_refuses_bad_arguments_before_writing(tmp_path, kwargs, message):
    args = {"cells": [parse_cell("xray-lung-lesion")], "n_train": 2, "n_test": 1,
            "cfg": LabConfig(size=32), "workers": 1, **kwargs}
    out = tmp_path / "lab"
    with pytest.raises(MedmatError, match=message):
        generate_lab(out, args.pop("cells"), **args)
    assert not out.exists()


def test_out_must_be_a_folder(tmp_path):
    out = tmp_path / "file"
    out.write_text("x")
    with pytest.raises(MedmatError, match="not a folder"):
        generate_lab(out, [Cell("CT", "Lung", "Location")], n_train=1, n_test=0)
