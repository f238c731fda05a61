"""Image-level (or group-level) train/val/test splits, made before any question exists.

Rules, in order:

1. If the source defines a test split (split folders, a split column, MedMNIST keys, Med-MAT
   ``-test`` files), every source split is kept as it is.
2. Otherwise test (and val, with ``--val-frac``) images are carved out of the source's training
   rows; rows the source put in val stay in val, and so does everything linked to them.

Carving works on *units*: all rows that share decoded pixels (``pixel_sha1``) or a group value
(``--group-column``, ``--group-by``: a patient, study or volume) are one unit, so the same image,
patient or volume never lands on two sides. A unit holding a row the source put in val goes to
val whole. Units are stratified by label and ordered by a seeded SHA-1 of a stable key, so the
split depends only on the data and the seed, never on file order. Source-defined test splits
are kept as given; :func:`groups_across_splits` lists the groups they put on two sides.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SplitRow:
    key: str
    labels: tuple[str, ...]
    pixel_sha1: str
    group: str | None
    source_split: str | None


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _count(n: int, frac: float) -> int:
    """Round half up; a stratum of two or more always gives at least one row when frac > 0."""
    if frac <= 0 or n == 0:
        return 0
    k = int(n * frac + 0.5)
    return max(k, 1) if n >= 2 else 0


def _units(rows: Sequence[SplitRow], idx: Sequence[int]) -> list[list[int]]:
    uf = _UnionFind(len(rows))
    first: dict[tuple[str, str], int] = {}
    for i in idx:
        links = [("px", rows[i].pixel_sha1)]
        if rows[i].group:
            links.append(("group", rows[i].group))
        for link in links:
            if link in first:
                uf.union(first[link], i)
            else:
                first[link] = i
    members: dict[int, list[int]] = defaultdict(list)
    for i in idx:
        members[uf.find(i)].append(i)
    return list(members.values())


def assign_splits(
    rows: Sequence[SplitRow], *, test_frac: float, val_frac: float, seed: int
) -> tuple[list[str], str]:
    """Return one split per row, and ``"source"`` or ``"derived"`` (how the splits were made)."""
    if any(r.source_split == "test" for r in rows):
        return [r.source_split or "train" for r in rows], "source"
    splits = [r.source_split or "train" for r in rows]
    strata: dict[str, list[tuple[str, list[int]]]] = defaultdict(list)
    for unit in _units(rows, range(len(rows))):
        if any(splits[i] == "val" for i in unit):
            for i in unit:
                splits[i] = "val"
            continue
        # A unit's stable key: its group if it has one, else its smallest pixel hash.
        ukey = min(rows[i].group or rows[i].pixel_sha1 for i in unit)
        stratum = "\x1f".join(sorted(rows[min(unit, key=lambda i: rows[i].key)].labels))
        order = hashlib.sha1(f"{seed}\x1f{ukey}".encode()).hexdigest()
        strata[stratum].append((order, unit))
    for stratum in sorted(strata):
        units = sorted(strata[stratum], key=lambda t: t[0])
        n_test = _count(len(units), test_frac)
        n_val = _count(len(units) - n_test, val_frac / max(1e-12, 1 - test_frac)) if val_frac else 0
        for pos, (_, unit) in enumerate(units):
            split = "test" if pos < n_test else "val" if pos < n_test + n_val else "train"
            for i in unit:
                splits[i] = split
    return splits, "derived"


def groups_across_splits(pairs: Iterable[tuple[str | None, str]]) -> list[str]:
    """The groups that (group, split) pairs place in more than one split, sorted."""
    seen: dict[str, set[str]] = defaultdict(set)
    for group, split in pairs:
        if group is not None:
            seen[group].add(split)
    return sorted(g for g, splits in seen.items() if len(splits) > 1)
