"""The catalog in memory: typed entries read from the package's own CSV files.

The CSVs (``datasets.csv``, ``subsets.csv``, ``fixes.csv`` next to this module) are generated
by :mod:`medmat.catalog.build` from the upstream Med-MAT tables and committed, so loading the
catalog never needs the upstream files or the network.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from medmat.errors import MedmatError

DATASETS_FILE = "datasets.csv"
SUBSETS_FILE = "subsets.csv"
FIXES_FILE = "fixes.csv"
LIST_SEP = ";"

DATASET_COLUMNS = (
    "no",
    "name",
    "source_url",
    "modality",
    "area",
    "task",
    "task_raw",
    "subset",
    "qa_file",
    "released",
    "notes",
    "ambiguous",
    "candidates",
    "same_source",
    "flags",
    "no_raw",
    "name_raw",
    "source_url_raw",
    "modality_raw",
    "area_raw",
    "released_raw",
)
SUBSET_COLUMNS = (
    "no",
    "modality",
    "area",
    "task",
    "task_raw",
    "qa_file",
    "released",
    "dataset_nos",
    "ambiguous",
    "flags",
    "notes",
    "modality_raw",
    "area_raw",
    "released_raw",
)
FIX_COLUMNS = ("id", "table", "row", "field", "old", "new", "kind", "reason")


@dataclass(frozen=True)
class DatasetEntry:
    """One upstream source dataset, normalised. ``*_raw`` fields keep the upstream text.

    ``subset`` is the two-digit aggregated subset it was assigned to (None when no subset has
    its MAT triplet); ``candidates`` lists every subset it could belong to and ``ambiguous`` is
    true when there was more than one. ``same_source`` lists other rows built from the same
    images (a leakage risk when they end up on different sides of a split).
    """

    no: int | None
    name: str
    source_url: str
    modality: str
    area: str
    task: str
    task_raw: str
    subset: str | None
    qa_file: str
    released: bool
    notes: str = ""
    ambiguous: bool = False
    candidates: tuple[str, ...] = ()
    same_source: tuple[int, ...] = ()
    flags: tuple[str, ...] = ()
    no_raw: str = ""
    name_raw: str = ""
    source_url_raw: str = ""
    modality_raw: str = ""
    area_raw: str = ""
    released_raw: str = ""


@dataclass(frozen=True)
class SubsetEntry:
    """One aggregated MAT subset ("01".."53") with the datasets derived to belong to it."""

    no: str
    modality: str
    area: str
    task: str
    task_raw: str
    released: bool
    dataset_nos: list[int] = field(default_factory=list)
    ambiguous: bool = False
    qa_file: str = ""
    flags: tuple[str, ...] = ()
    notes: str = ""
    modality_raw: str = ""
    area_raw: str = ""
    released_raw: str = ""


@dataclass(frozen=True)
class Fix:
    """One recorded correction (``kind`` fix), observation (flag) or synonym normalisation."""

    id: int
    table: str
    row: str
    field: str
    old: str
    new: str
    kind: str
    reason: str


@dataclass(frozen=True)
class Catalog:
    datasets: list[DatasetEntry]
    subsets: list[SubsetEntry]
    fixes: list[Fix]
    source: str = ""

    def dataset(self, no: int) -> DatasetEntry:
        """The dataset with upstream number ``no``."""
        for entry in self.datasets:
            if entry.no is not None and entry.no == _as_int(no, "dataset number"):
                return entry
        nos = [d.no for d in self.datasets if d.no is not None]
        raise MedmatError(
            f"no dataset number {no!r} in the catalog; numbers run {min(nos)}..{max(nos)} "
            "(see `medmat catalog --kind datasets`)"
        )

    def subset(self, no: str | int) -> SubsetEntry:
        """The subset ``no`` ("03", "3" and 3 all work)."""
        key = f"{_as_int(no, 'subset number'):02d}"
        for entry in self.subsets:
            if entry.no == key:
                return entry
        raise MedmatError(
            f"no subset {no!r} in the catalog; subsets run {self.subsets[0].no}.."
            f"{self.subsets[-1].no} (see `medmat catalog --kind subsets`)"
        )

    def fixes_for(self, table: str, row: str | int) -> list[Fix]:
        """Every recorded fix/flag of one row (``table`` is "datasets" or "subsets")."""
        key = str(row)
        if table == "subsets" and key.isdigit():
            key = f"{int(key):02d}"
        return [f for f in self.fixes if f.table == table and f.row == key]


def _as_int(value: object, what: str) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise MedmatError(f"{what} must be a whole number, got {value!r}") from None


# -- reading -------------------------------------------------------------------------------------

_DEFAULT: Catalog | None = None


def load_catalog(directory: str | os.PathLike[str] | None = None) -> Catalog:
    """The project catalog (package CSVs), or the one in ``directory`` if given. Cached."""
    global _DEFAULT
    if directory is None:
        if _DEFAULT is None:
            pkg = resources.files("medmat.catalog")
            _DEFAULT = _load(
                lambda name: (pkg / name).read_text(encoding="utf-8"), "medmat.catalog package"
            )
        return _DEFAULT
    base = Path(directory)

    def read(name: str) -> str:
        try:
            return (base / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise MedmatError(
                f"{base / name} not found; a catalog directory holds {DATASETS_FILE}, "
                f"{SUBSETS_FILE} and {FIXES_FILE} (make one with python -m medmat.catalog.build)"
            ) from None

    return _load(read, str(base))


def _load(read: Callable[[str], str], source: str) -> Catalog:
    datasets = [
        _dataset(r, source, i)
        for i, r in _rows(read(DATASETS_FILE), DATASETS_FILE, DATASET_COLUMNS, source)
    ]
    subsets = [
        _subset(r) for _, r in _rows(read(SUBSETS_FILE), SUBSETS_FILE, SUBSET_COLUMNS, source)
    ]
    fixes = [
        Fix(int(r["id"]), *(r[c] for c in FIX_COLUMNS[1:]))
        for _, r in _rows(read(FIXES_FILE), FIXES_FILE, FIX_COLUMNS, source)
    ]
    return Catalog(datasets, subsets, fixes, source)


def _rows(
    text: str, name: str, columns: Iterable[str], source: str
) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(text.splitlines())
    missing = set(columns) - set(reader.fieldnames or ())
    if missing:
        raise MedmatError(
            f"{source}/{name}: missing column(s) {sorted(missing)}; regenerate it with "
            "python -m medmat.catalog.build"
        )
    return [(i, row) for i, row in enumerate(reader, start=2)]


def _dataset(r: dict[str, str], source: str, line: int) -> DatasetEntry:
    try:
        no = int(r["no"]) if r["no"] else None
    except ValueError:
        raise MedmatError(f"{source}/{DATASETS_FILE} line {line}: bad number {r['no']!r}") from None
    return DatasetEntry(
        no=no,
        name=r["name"],
        source_url=r["source_url"],
        modality=r["modality"],
        area=r["area"],
        task=r["task"],
        task_raw=r["task_raw"],
        subset=r["subset"] or None,
        qa_file=r["qa_file"],
        released=r["released"] == "true",
        notes=r["notes"],
        ambiguous=r["ambiguous"] == "true",
        candidates=split_list(r["candidates"]),
        same_source=tuple(int(x) for x in split_list(r["same_source"])),
        flags=split_list(r["flags"]),
        no_raw=r["no_raw"],
        name_raw=r["name_raw"],
        source_url_raw=r["source_url_raw"],
        modality_raw=r["modality_raw"],
        area_raw=r["area_raw"],
        released_raw=r["released_raw"],
    )


def _subset(r: dict[str, str]) -> SubsetEntry:
    return SubsetEntry(
        no=r["no"],
        modality=r["modality"],
        area=r["area"],
        task=r["task"],
        task_raw=r["task_raw"],
        released=r["released"] == "true",
        dataset_nos=[int(x) for x in split_list(r["dataset_nos"])],
        ambiguous=r["ambiguous"] == "true",
        qa_file=r["qa_file"],
        flags=split_list(r["flags"]),
        notes=r["notes"],
        modality_raw=r["modality_raw"],
        area_raw=r["area_raw"],
        released_raw=r["released_raw"],
    )


def split_list(text: str) -> tuple[str, ...]:
    return tuple(x for x in (text or "").split(LIST_SEP) if x)


def join_list(items: Iterable[object]) -> str:
    return LIST_SEP.join(str(x) for x in items)
