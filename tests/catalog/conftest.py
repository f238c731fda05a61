"""Fixtures: the packaged catalog, and small made-up upstream tables for the build."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from medmat.catalog import load_catalog

UP_DS_COLS = ["no", "name", "source_url", "modality", "area", "task", "qa_file", "released"]
UP_SS_COLS = ["no", "modality", "area", "task", "qa_file", "released"]
NOT_RELEASED = "no (detection/segmentation, TODO upstream)"

# A miniature upstream in the same shape and with the same kinds of mess as the real one.
_QA = "ori--{:02d}-train.json"
MINI_DATASETS = [
    ["1", "Chest CT COVID", "https://x.org/a", "CT", "Lung", "COVID19, Classification",
     _QA.format(1), "yes"],
    ["2", "Lung CT Canser", "https://x.org/b", "CT", "Lung", "Canser Classification",
     _QA.format(2), "yes"],
    ["", "Knee X-Ray", "https://x.org/c", "X-Ray", "Bones", "Degree Classification of Knee",
     _QA.format(3), "yes"],
    ["4", "Bone Age", "https://x.org/d", "X-ray", "Bones", "Bone Age Classification",
     _QA.format(4), "yes"],
    ["5", "Dental", "https://x.org/e", "DP", "Teeth", "Teeth condition classification",
     _QA.format(5), "yes"],
    ["6", "Lung CT Canser", "https://x.org/b", "CT", "Lung", "Lung Segmentation", "",
     NOT_RELEASED],
]  # fmt: skip
MINI_SUBSETS = [
    ["01", "CT", "Lung", "COVID-19 Classification", "Subset--01-train.json", "yes"],
    ["02", "CT", "Lung", "Lung Cancer Classification", "Subset--02-train.json", "yes"],
    ["03", "X-ray", "Bones", "Degree Classification of Knee", "Subset--03-train.json", "yes"],
    ["04", "X-ray", "Bones", "Level Identification", "Subset--04-train.json", "yes"],
    ["05", "DP", "Mouth", "Teeth Condition Classification", "Subset--05-train.json", "yes"],
    ["06", "CT", "Lung", "Lung Det/Seg", "", NOT_RELEASED],
]  # fmt: skip


def write_upstream(folder: Path, datasets=None, subsets=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, cols, rows in (
        ("datasets.csv", UP_DS_COLS, MINI_DATASETS if datasets is None else datasets),
        ("subsets.csv", UP_SS_COLS, MINI_SUBSETS if subsets is None else subsets),
    ):
        with open(folder / name, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(cols)
            writer.writerows(rows)
    return folder


@pytest.fixture
def mini_rows():
    """Fresh copies of the miniature upstream rows: (datasets, subsets)."""
    return [list(r) for r in MINI_DATASETS], [list(r) for r in MINI_SUBSETS]


@pytest.fixture
def write_up():
    """``write_up(folder, datasets=None, subsets=None)`` writes an upstream folder."""
    return write_upstream


@pytest.fixture
def shared_catalog() -> Path:
    if not SHARED_CATALOG.is_dir():
        pytest.skip("upstream facts (../shared/medmat/catalog) not available here")
    return SHARED_CATALOG


@pytest.fixture
def mini_upstream(tmp_path) -> Path:
    return write_upstream(tmp_path / "upstream")


@pytest.fixture
def empty_curation(tmp_path) -> Path:
    path = tmp_path / "curation.yaml"
    path.write_text("typos: {Canser: Cancer}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


SHARED_CATALOG = Path(__file__).resolve().parents[2].parent / "shared" / "medmat" / "catalog"
