"""The lattice of a records table: which MAT combinations (subsets) exist, with how much data."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pyarrow as pa

from medmat.errors import MedmatError

ELEMENTS = ("modality", "area", "task")
# General-domain data (everyday photographs: the taxonomy's "Photo", the lab's photo-scene cells)
# is what a model knows before medical training: never a CG target or source (see the planner).
GENERAL_MODALITIES = frozenset({"Photo"})


@dataclass(frozen=True, order=True)
class SubsetInfo:
    """One subset of a lattice. ``labels`` is its label space (sorted; empty if unknown)."""

    subset: str
    modality: str
    area: str
    task: str
    n_train: int = 0
    n_test: int = 0
    labels: tuple[str, ...] = ()

    @property
    def general(self) -> bool:
        """General-domain data (not a medical MAT combination)."""
        return self.modality in GENERAL_MODALITIES

    @property
    def triplet(self) -> tuple[str, str, str]:
        return (self.modality, self.area, self.task)

    def shared(self, other: SubsetInfo) -> frozenset[str]:
        """Which MAT elements two subsets have in common."""
        return frozenset(
            e for e, a, b in zip(ELEMENTS, self.triplet, other.triplet, strict=True) if a == b
        )

    def describe(self) -> str:
        return f"{self.subset} ({self.modality} / {self.area} / {self.task})"


def lattice_from_table(table: pa.Table) -> dict[str, SubsetInfo]:
    """Subset id -> SubsetInfo; a subset must have one MAT triplet.

    With a ``labels`` column the label space of each subset is collected too (the planner's
    tie-break compares label spaces); without one, ``labels`` stays empty.
    """
    cols = table.select(["subset", "modality", "area", "task", "split"]).to_pydict()
    triplets: dict[str, tuple[str, str, str]] = {}
    counts: Counter[tuple[str, str]] = Counter()
    labels: dict[str, set[str]] = {}
    if "labels" in table.column_names:
        for sub, labs in zip(cols["subset"], table.column("labels").to_pylist(), strict=True):
            labels.setdefault(sub, set()).update(labs or ())
    for sub, m, a, t, split in zip(
        cols["subset"], cols["modality"], cols["area"], cols["task"], cols["split"], strict=True
    ):
        if triplets.setdefault(sub, (m, a, t)) != (m, a, t):
            raise MedmatError(
                f"subset {sub!r} mixes MAT triplets {triplets[sub]} and {(m, a, t)}; "
                "give each combination its own subset id"
            )
        counts[(sub, split)] += 1
    return {
        sub: SubsetInfo(sub, *trip, n_train=counts[(sub, "train")], n_test=counts[(sub, "test")],
                        labels=tuple(sorted(labels.get(sub, ()))))
        for sub, trip in sorted(triplets.items())
    }


def find_target(lattice: dict[str, SubsetInfo], spec: str | dict) -> SubsetInfo:
    """A target given as a subset id or as {modality, area, task} (taxonomy spellings allowed)."""
    if isinstance(spec, str):
        if spec in lattice:
            return lattice[spec]
        raise MedmatError(
            f"target {spec!r} is not a subset of this data; available: {sorted(lattice)}"
        )
    if not isinstance(spec, dict) or set(spec) - {"modality", "area", "task", "subset"}:
        raise MedmatError(f"target {spec!r}: give a subset id or {{modality, area, task}}")
    if "subset" in spec:
        return find_target(lattice, spec["subset"])
    want = dict(spec)
    try:
        from medmat.taxonomy import normalize

        want = {k: normalize(k, v) for k, v in want.items()}
    except ImportError:  # pragma: no cover - taxonomy ships with the package
        pass
    hits = [s for s in lattice.values() if all(getattr(s, k) == v for k, v in want.items())]
    if len(hits) != 1:
        what = "no subset" if not hits else f"{len(hits)} subsets ({[h.subset for h in hits]})"
        raise MedmatError(f"target {spec}: {what} match; name the subset id instead")
    return hits[0]
