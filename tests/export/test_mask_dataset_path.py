"""A mask dataset made here (PNG masks, and NIfTI label volumes) goes ingest -> build -> export,
and every exported grounding answer is the mask's outer extent, computed here from the mask
files the ingest stored (exactly, in the canonical 0-1 form with three decimals)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmat.cli import main

W, H = 40, 30  # not square: swapped axes would show


def _cli(*args: object) -> None:
    main([str(a) for a in args])


def _canonical_extent(mask: np.ndarray) -> list[float]:
    """Outer extent of the non-zero pixels in pixel edges, divided by the size, 3 decimals."""
    cols, rows = np.flatnonzero(mask.any(axis=0)), np.flatnonzero(mask.any(axis=1))
    h, w = mask.shape
    return [round(cols[0] / w, 3), round(rows[0] / h, 3), round((cols[-1] + 1) / w, 3),
            round((rows[-1] + 1) / h, 3)]


def _png_dataset(root: Path, n: int = 6) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        (root / "lesion").mkdir(parents=True, exist_ok=True)
        img = rng.integers(0, 200, (H, W, 3), dtype=np.uint8)
        mask = np.zeros((H, W), np.uint8)
        y, x = int(rng.integers(0, H - 10)), int(rng.integers(0, W - 12))
        mask[y:y + 7, x:x + 9] = 255
        mask[y + 8, x + 11] = 255  # a stray pixel: the extent is not the blob's rectangle
        Image.fromarray(img).save(root / "lesion" / f"case{i}.png")
        Image.fromarray(mask).save(root / "lesion" / f"case{i}_mask.png")


def _build_and_export(records: Path, tmp: Path) -> dict[str, list[float]]:
    """record image path -> exported answer box (Med-MAT JSON extension field)."""
    _cli("build", records, "--out", tmp / "items", "-q")
    _cli("export", tmp / "items", "--format", "medmat-json", "--out", tmp / "mj", "--name", "g")
    boxes = {}
    for path in sorted((tmp / "mj").glob("g*.json")):
        for row in json.loads(path.read_text()):
            assert row["Answer"] == "[{:.3f}, {:.3f}, {:.3f}, {:.3f}]".format(*row["answer_box"])
            boxes[row["image"]] = row["answer_box"]
    _cli("export", tmp / "items", "--format", "llamafactory", "--out", tmp / "lf", "--name", "g")
    answers = [msg["content"] for path in (tmp / "lf").glob("g*.json")
               for row in json.loads(path.read_text())
               for msg in row["messages"] if msg["role"] == "assistant"]
    assert sorted(answers) == sorted("[{:.3f}, {:.3f}, {:.3f}, {:.3f}]".format(*b)
                                     for b in boxes.values())
    return boxes


def _expected(records: Path) -> dict[str, list[float]]:
    import pyarrow.parquet as pq

    expected = {}
    for rec in pq.read_table(records / "records.parquet").to_pylist():
        with Image.open(records / rec["mask"]) as m:
            expected[rec["image"]] = _canonical_extent(np.asarray(m) > 0)
    return expected


def test_png_masks_ingest_build_export(tmp_path):
    _png_dataset(tmp_path / "d")
    records = tmp_path / "records"
    _cli("ingest", tmp_path / "d", "--format", "folder", "--out", records,
         "--mask-pattern", "{stem}_mask.png", "--test-frac", "0.5", "--modality", "X-ray",
         "--area", "Lung", "--task", "Detection/segmentation")
    got = _build_and_export(records, tmp_path)
    want = _expected(records)
    # the exported image paths are relative to the export; match them by file name
    by_name = {Path(k).name: v for k, v in got.items()}
    assert {Path(k).name: v for k, v in want.items()} == by_name and len(by_name) == 6


def test_nifti_label_volumes_ingest_build_export(tmp_path):
    nib = pytest.importorskip("nibabel")
    seg = np.zeros((12, 10, 4), np.uint8)
    seg[2:6, 3:8, 1:3] = 1
    seg[7, 1, 1:3] = 1  # stray voxel on two slices
    vol = np.where(seg > 0, 1000.0, 0.0).astype(np.float32)
    (tmp_path / "d" / "lesion").mkdir(parents=True)
    affine = np.diag([1.0, 1.5, 2.0, 1.0])
    nib.save(nib.Nifti1Image(vol, affine), tmp_path / "d" / "lesion" / "v.nii.gz")
    nib.save(nib.Nifti1Image(seg, affine), tmp_path / "d" / "lesion" / "v_seg.nii.gz")
    records = tmp_path / "records"
    _cli("ingest", tmp_path / "d", "--format", "nifti", "--out", records, "--slices", "every:1",
         "--mask-pattern", "{stem}_seg.nii.gz", "--on-error", "skip", "--test-frac", "0",
         "--modality", "MRI", "--area", "Brain", "--task", "Detection/segmentation",
         "--window", "500,1000")
    want = _expected(records)
    assert len(want) == 2  # the two slices holding the lesion; empty slices are counted skips
    got = _build_and_export(records, tmp_path)
    assert {Path(k).name: v for k, v in got.items()} == {Path(k).name: v
                                                          for k, v in want.items()}
