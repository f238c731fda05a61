"""Filtering and counting catalog entries (shared by the CLI and library users)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any

from medmat.catalog.model import Catalog, DatasetEntry, SubsetEntry
from medmat.errors import MedmatError
from medmat.taxonomy import Taxonomy, load_taxonomy

KINDS = ("datasets", "subsets")
Entry = DatasetEntry | SubsetEntry


def _check_kind(kind: str, what: str = "--kind") -> str:
    if kind not in KINDS:
        raise MedmatError(f"{what} must be one of {', '.join(KINDS)}, got {kind!r}")
    return kind


def filter_entries(
    catalog: Catalog,
    kind: str = "subsets",
    *,
    modality: str | None = None,
    area: str | None = None,
    task: str | None = None,
    taxonomy: Taxonomy | None = None,
) -> list[Entry]:
    """Entries of ``kind`` matching every given filter.

    Filters go through the taxonomy, so any spelling works (``modality="X-Ray"``, ``"xray"``,
    ``area="teeth"``); an unknown spelling raises :class:`UnknownTermError` with suggestions.
    """
    tax = taxonomy or load_taxonomy()
    entries: list[Entry] = list(
        catalog.datasets if _check_kind(kind) == "datasets" else catalog.subsets
    )
    wanted = {
        field: tax.normalize(field, value, where=f"the {field} filter")
        for field, value in (("modality", modality), ("area", area), ("task", task))
        if value is not None
    }
    return [e for e in entries if all(getattr(e, f) == v for f, v in wanted.items())]


def lattice_counts(
    entries: list[Entry], taxonomy: Taxonomy | None = None
) -> tuple[list[str], list[str], list[list[int]]]:
    """Modality x area counts: (modalities, areas, matrix[modality][area]).

    Rows and columns keep vocabulary order and drop modalities/areas with no entry at all, so
    the heatmap shows the lattice that the data actually spans.
    """
    tax = taxonomy or load_taxonomy()
    counts = Counter((e.modality, e.area) for e in entries)
    mods = [m for m in tax.names("modality") if any(k[0] == m for k in counts)]
    areas = [a for a in tax.names("area") if any(k[1] == a for k in counts)]
    return mods, areas, [[counts.get((m, a), 0) for a in areas] for m in mods]


def entry_dict(entry: Entry) -> dict[str, Any]:
    """A JSON-ready dict of an entry (tuples become lists)."""
    out = asdict(entry)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}
