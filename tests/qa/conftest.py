"""Fixtures for the VQA builder tests: small PNG-less records tables (no image I/O needed)."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pytest

from medmat.records import ImageRecord, records_to_table, write_records

# (subset, modality, area, task, labels, multi-label)
SPECS = {
    "22": ("MRI", "Brain", "Lesion type", ["Glioma", "Meningioma", "No tumor", "Pituitary",
                                           "Other"], False),
    "03": ("CT", "Lung", "COVID-19", ["COVID-19", "Normal", "Pneumonia"], False),
    "26": ("X-ray", "Bones", "Fracture", ["Fractured", "Not fractured"], False),
    "31": ("X-ray", "Chest", "Multi-label", ["Atelectasis", "Cardiomegaly", "Effusion",
                                            "Infiltration", "Mass", "Nodule"], True),
    "14": ("Fundus photography", "Fundus", "Disease classification",
           ["Cataract", "Glaucoma", "Normal", "Diabetic retinopathy"], False),
}


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("MEDMAT_PROGRESS", "0")


def make_records(n: int, seed: int = 0, subsets=None, prefix: str = "r") -> list[ImageRecord]:
    rng = random.Random(seed)
    subsets = list(subsets or SPECS)
    out = []
    for i in range(n):
        sub = subsets[i % len(subsets)]
        mod, area, task, labels, multi = SPECS[sub]
        labs = tuple(rng.sample(labels, rng.randint(1, 3))) if multi else (rng.choice(labels),)
        split = rng.choice(["train", "train", "train", "val", "test"])
        out.append(ImageRecord(
            record_id=f"{prefix}{i:05d}", image=f"{sub}/{split}/img ({i}).png", labels=labs,
            modality=mod, area=area, task=task, subset=sub, split=split, source=f"{int(sub) + 40}",
            multi_label=multi, pixel_sha1=f"{prefix}{i:038x}"[-40:], phash=None,
        ))
    return out


@pytest.fixture
def records() -> list[ImageRecord]:
    return make_records(600)


@pytest.fixture
def table(records) -> pa.Table:
    return records_to_table(records)


@pytest.fixture
def records_dir(tmp_path: Path, records) -> Path:
    root = tmp_path / "lab"
    write_records(root / "records.parquet", records)
    return root


def write_table(root: Path, recs) -> Path:
    """Write a records table without the contract's validation (to test our own errors)."""
    import pyarrow.parquet as pq

    root.mkdir(parents=True, exist_ok=True)
    table = recs if isinstance(recs, pa.Table) else records_to_table(recs)
    pq.write_table(table, root / "records.parquet")
    return root


@pytest.fixture
def make():
    """``make(n, seed=0, subsets=None, prefix="r")`` -> list of ImageRecord."""
    return make_records


@pytest.fixture
def write():
    """``write(folder, records_or_table)`` -> folder (no contract validation)."""
    return write_table
