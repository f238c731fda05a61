"""Fixtures for the leakage tests: small records tables with real PNGs and planted copies."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmat.imaging import phash, pixel_sha1
from medmat.records import ImageRecord, write_records


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("MEDMAT_PROGRESS", "0")


def distinct_image(seed: int, size: int = 64) -> Image.Image:
    """A smooth random RGB picture (low-frequency noise + a bright disc), distinct per seed."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
    img = Image.fromarray(coarse, "RGB").resize((size, size), Image.Resampling.BICUBIC)
    arr = np.asarray(img).astype(np.int16)
    yy, xx = np.mgrid[:size, :size]
    cy, cx, r = rng.integers(10, size - 10, size=2).tolist() + [int(rng.integers(5, 12))]
    arr[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] += 60
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def jpeg_copy(img: Image.Image, quality: int = 75) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as out:
        return out.convert("RGB")


def resized_copy(img: Image.Image, factor: float) -> Image.Image:
    w, h = img.size
    return img.resize((int(w * factor), int(h * factor)), Image.Resampling.BILINEAR)


def write_table(root: Path, entries: list[tuple[str, str, Image.Image, str]], *,
                store_hashes: bool = True, source: str = "") -> Path:
    """entries: (record_id, split, image, subset); writes PNGs + records.parquet under root."""
    records = []
    for rid, split, img, subset in entries:
        rel = f"images/{subset}/{split}/{rid}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        img.save(root / rel)
        records.append(ImageRecord(
            record_id=rid, image=rel, labels=("a",), modality="CT", area="Lung",
            task="COVID-19", subset=subset, split=split, source=source,
            pixel_sha1=pixel_sha1(img) if store_hashes else None,
            phash=phash(img) if store_hashes else None,
        ))
    write_records(root, records)
    return root


@pytest.fixture
def planted(tmp_path: Path) -> dict:
    """Table A: 12 distinct images (train/test) with planted copies of train images in test:
    an exact copy (t-exact), a JPEG q75 copy (t-jpeg), a 0.5x resize (t-small).
    Table B (another source): a 2x resize of A's train image 'a-train-02' and 4 distinct ones."""
    base = [distinct_image(s) for s in range(16)]
    a_entries = [(f"a-train-{i:02d}", "train", base[i], "03") for i in range(8)]
    a_entries += [(f"a-test-{i:02d}", "test", base[i], "04") for i in range(8, 12)]
    a_entries += [
        ("t-exact", "test", base[0].copy(), "04"),
        ("t-jpeg", "test", jpeg_copy(base[1]), "04"),
        ("t-small", "val", resized_copy(base[3], 0.5), "04"),
    ]
    b_entries = [(f"b-{i:02d}", "test", base[i], "22") for i in range(12, 16)]
    b_entries += [("b-big", "test", resized_copy(base[2], 2.0), "22")]
    a = write_table(tmp_path / "a", a_entries, source="isic2016")
    b = write_table(tmp_path / "b", b_entries, store_hashes=False, source="isbi2016")
    return {"a": a, "b": b, "base": base}


@pytest.fixture
def helpers():
    """The image/table builders above, for tests (conftest is not importable by name)."""
    from types import SimpleNamespace

    return SimpleNamespace(distinct_image=distinct_image, jpeg_copy=jpeg_copy,
                           resized_copy=resized_copy, write_table=write_table)
