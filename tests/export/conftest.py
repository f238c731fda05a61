"""Fixtures for the export tests: a records folder with real images, built into VQA items.

Three subsets with different image kinds (RGB PNG, JPEG with spaces/parentheses in the name,
greyscale PNG), options from 2 to 4, train/val/test splits, and two test records sharing one
image file (to exercise VLMEvalKit's image reuse).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmat.imaging import open_image, phash, pixel_sha1
from medmat.manifest import output_digests, read_manifest, write_manifest
from medmat.records import ImageRecord, write_records

SUBSETS = {
    "03": ("CT", "Lung", "COVID-19", ["COVID-19", "Normal", "Pneumonia"], "png"),
    "22": ("MRI", "Brain", "Lesion type", ["Glioma", "Meningioma", "No tumor", "Pituitary"],
           "jpg"),
    "26": ("X-ray", "Bones", "Fracture", ["Fractured", "Not fractured"], "grey"),
}
PER_SPLIT = {"train": 4, "val": 1, "test": 3}


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("MEDMAT_PROGRESS", "0")
    # offline and out of ~/.cache (the tests also pass cache_dir to load_dataset explicitly)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path_factory.mktemp("hf-cache")
    monkeypatch.setenv("HF_HOME", str(cache))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache / "datasets"))


def _image(seed: int, kind: str) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
    img = Image.fromarray(coarse, "RGB").resize((40, 32), Image.Resampling.BICUBIC)
    return img.convert("L") if kind == "grey" else img


def make_records_dir(root: Path, prefix: str = "") -> Path:
    """``prefix="images/"`` puts the files where `medmat ingest` puts them."""
    records = []
    seed = 0
    for sub, (mod, area, task, labels, kind) in SUBSETS.items():
        for split, n in PER_SPLIT.items():
            for i in range(n):
                seed += 1
                ext = "jpg" if kind == "jpg" else "png"
                rel = f"{prefix}{area}_{mod}/{split}/{labels[i % len(labels)]}/img ({i}).{ext}"
                img = _image(seed, kind)
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                if ext == "jpg":
                    img.save(root / rel, quality=90)
                else:
                    img.save(root / rel)
                decoded = open_image(root / rel)
                records.append(ImageRecord(
                    record_id=f"{sub}-{split}-{i}", image=rel, labels=(labels[i % len(labels)],),
                    modality=mod, area=area, task=task, subset=sub, split=split,
                    source=str(40 + int(sub)), pixel_sha1=pixel_sha1(decoded),
                    phash=phash(decoded)))
    # a second test record pointing at the same file as 03-test-0 (same image, other id)
    first = next(r for r in records if r.record_id == "03-test-0")
    records.append(ImageRecord(**{**first.__dict__, "record_id": "03-test-dup"}))
    write_records(root, records)
    return root


def build_items(tmp: Path, prefix: str = "") -> Path:
    from medmat.qa import build

    records = make_records_dir(tmp / "records", prefix)
    build(records, tmp / "items", seed=0)
    return tmp / "items"


@pytest.fixture(scope="session")
def _shared_items(tmp_path_factory) -> Path:
    return build_items(tmp_path_factory.mktemp("shared"))


@pytest.fixture
def items_dir(_shared_items) -> Path:
    """Read-only built items shared by the tests (do not modify; use fresh_items for that)."""
    return _shared_items


def resign_build(items: Path) -> None:
    """Record the build's files as they are now in its manifest.

    A test that damages a build on purpose calls this so that the export's own checks answer,
    not the "changed since the build" check in front of them (see test_edited_build_is_refused).
    """
    man = read_manifest(items)
    present = [name for name in man.outputs if (items / name).exists()]
    write_manifest(items, man.with_outputs(output_digests(items, present)))


@pytest.fixture
def resign():
    return resign_build


@pytest.fixture
def fresh_items(tmp_path, _shared_items) -> Path:
    """A private copy of the records + items that a test may damage."""
    shutil.copytree(_shared_items.parent, tmp_path / "copy")
    items = tmp_path / "copy" / "items"
    summary = (items / "summary.json").read_text()
    (items / "summary.json").write_text(
        summary.replace(str((_shared_items.parent / "records").resolve()),
                        str((tmp_path / "copy" / "records").resolve())))
    resign_build(items)
    return items


@pytest.fixture
def ingest_layout_items(tmp_path) -> Path:
    """Items whose image paths start with images/, as records from `medmat ingest` do."""
    return build_items(tmp_path / "ingested", prefix="images/")
