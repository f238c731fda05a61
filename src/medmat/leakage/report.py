"""Duplicate groups across splits and sources: the ``medmat leakage`` report.

Exact groups share a decoded-pixel SHA-1. Near groups link *distinct* pixel contents in two
stages (:mod:`.neardup`): perceptual hashes within ``threshold`` bits (or within it of one of the
other image's crop-box hashes) propose pairs, and the pixels confirm them (detail correlation of
aligned thumbnails, :mod:`.similarity`); confirmed pairs are joined transitively, so a JPEG
re-encode, a resized or a cropped copy lands in the same group as its original while look-alike
images of one modality do not. A near group is reported only when it joins at least two
different pixel contents: pure exact groups are not repeated. Records sharing a ``group``
(patient, volume) across splits are counted too (:mod:`.groups`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from PIL import Image

from medmat.errors import MedmatError
from medmat.imaging import open_image, resolve_under_root
from medmat.io import write_json
from medmat.leakage.groups import GroupSpan, group_spans
from medmat.leakage.neardup import near_groups
from medmat.leakage.nearpairs import max_pairwise_distance, near_components, to_uint64
from medmat.leakage.similarity import DEFAULT_MIN_SIMILARITY, crop_hashes, picture
from medmat.leakage.sources import HashedRows, RecordsSource, hash_source, load_source
from medmat.progress import progress_bar

DEFAULT_THRESHOLD = 8
REPORT_VERSION = 2


@dataclass(frozen=True)
class Member:
    table: str
    source: str
    record_id: str
    image: str
    split: str
    subset: str
    pixel_sha1: str | None
    phash: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "source": self.source,
            "record_id": self.record_id,
            "image": self.image,
            "split": self.split,
            "subset": self.subset,
            "pixel_sha1": self.pixel_sha1,
            "phash": None if self.phash is None else f"{self.phash & 0xFFFFFFFFFFFFFFFF:016x}",
        }


@dataclass(frozen=True)
class DuplicateGroup:
    kind: str  # "exact" | "near"
    members: tuple[Member, ...]
    max_distance: int | None  # max pairwise phash distance (0 for exact; None if too large)
    similarity: float | None = None  # weakest pixel-verified link of a near group

    @property
    def splits(self) -> list[str]:
        return sorted({m.split for m in self.members})

    @property
    def sources(self) -> list[str]:
        return sorted({m.source for m in self.members})

    @property
    def tables(self) -> list[str]:
        return sorted({m.table for m in self.members})

    @property
    def crosses_splits(self) -> bool:
        return len(self.splits) > 1

    @property
    def crosses_sources(self) -> bool:
        return len(self.sources) > 1

    @property
    def crosses_tables(self) -> bool:
        return len(self.tables) > 1

    @property
    def train_vs_eval(self) -> bool:
        """The leak that matters: a training image duplicated in val or test."""
        splits = set(self.splits)
        return "train" in splits and bool(splits - {"train"})

    def to_dict(self, gid: str) -> dict[str, Any]:
        return {
            "id": gid,
            "kind": self.kind,
            "size": len(self.members),
            "max_distance": self.max_distance,
            "similarity": None if self.similarity is None else round(self.similarity, 4),
            "splits": self.splits,
            "sources": self.sources,
            "tables": self.tables,
            "crosses_splits": self.crosses_splits,
            "crosses_sources": self.crosses_sources,
            "crosses_tables": self.crosses_tables,
            "train_vs_eval": self.train_vs_eval,
            "members": [m.to_dict() for m in self.members],
        }


@dataclass
class LeakageReport:
    threshold: int
    near: bool
    tables: list[dict[str, Any]]
    groups: list[DuplicateGroup] = field(default_factory=list)
    verified: bool = False  # near pairs confirmed on pixels
    crops: bool = False  # crop-box hashes proposed cropped copies
    min_similarity: float | None = None
    record_groups: int = 0  # distinct values of the records' group column
    group_spans: list[GroupSpan] = field(default_factory=list)  # groups found in two splits

    def of_kind(self, kind: str) -> list[DuplicateGroup]:
        return [g for g in self.groups if g.kind == kind]

    @property
    def leaky_groups(self) -> list[DuplicateGroup]:
        return [g for g in self.groups if g.train_vs_eval]

    def leaky_eval_records(self) -> list[tuple[str, str]]:
        """(table, record_id) of every val/test record that duplicates a training image."""
        out = {
            (m.table, m.record_id)
            for g in self.leaky_groups
            for m in g.members
            if m.split != "train"
        }
        return sorted(out)

    def summary(self) -> dict[str, Any]:
        def count(kind: str | None, pred) -> int:
            return sum(1 for g in self.groups if (kind is None or g.kind == kind) and pred(g))

        return {
            "records": sum(t["records"] for t in self.tables),
            "hashed_now": sum(t["hashed_now"] for t in self.tables),
            "exact_groups": count("exact", lambda g: True),
            "near_groups": count("near", lambda g: True),
            "records_in_exact_groups": sum(len(g.members) for g in self.of_kind("exact")),
            "records_in_near_groups": sum(len(g.members) for g in self.of_kind("near")),
            "largest_group": max((len(g.members) for g in self.groups), default=0),
            "groups_crossing_splits": count(None, lambda g: g.crosses_splits),
            "groups_crossing_sources": count(None, lambda g: g.crosses_sources),
            "groups_crossing_tables": count(None, lambda g: g.crosses_tables),
            "train_vs_eval_groups": {
                "exact": count("exact", lambda g: g.train_vs_eval),
                "near": count("near", lambda g: g.train_vs_eval),
            },
            "leaky_eval_records": len(self.leaky_eval_records()),
            "record_groups": {
                "total": self.record_groups,
                "across_splits": len(self.group_spans),
                "train_vs_eval": sum(g.train_vs_eval for g in self.group_spans),
            },
        }

    def to_dict(self) -> dict[str, Any]:
        counters = {"exact": 0, "near": 0}
        groups = []
        for g in self.groups:
            counters[g.kind] += 1
            groups.append(g.to_dict(f"{g.kind}-{counters[g.kind]:05d}"))
        return {
            "medmat_leakage_report": REPORT_VERSION,
            "threshold": self.threshold if self.near else None,
            "near": self.near,
            "verified": self.verified,
            "crops": self.crops,
            "min_similarity": self.min_similarity,
            "tables": self.tables,
            "summary": self.summary(),
            "groups": groups,
            "record_groups_across_splits": [g.to_dict() for g in self.group_spans],
        }

    def write(self, dest: str | Path) -> Path:
        """Write the report as deterministic JSON, atomically."""
        return write_json(dest, self.to_dict())


def _members(rows: list[HashedRows], idx: Iterable[tuple[int, int]]) -> tuple[Member, ...]:
    out = []
    for t, i in idx:
        r = rows[t]
        out.append(
            Member(
                table=r.label,
                source=r.source[i] or r.label,
                record_id=r.record_id[i],
                image=r.image[i],
                split=r.split[i],
                subset=r.subset[i],
                pixel_sha1=r.pixel_sha1[i],
                phash=r.phash[i],
            )
        )
    return tuple(sorted(out, key=lambda m: (m.table, m.record_id)))


def find_duplicates(
    tables_or_paths: Sequence[RecordsSource | pa.Table | str | Path],
    *,
    threshold: int = DEFAULT_THRESHOLD,
    near: bool = True,
    rehash: bool = False,
    verify: bool = True,
    crops: bool = True,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
) -> LeakageReport:
    """Exact and near duplicate groups across every given records table.

    Each element is a dataset folder, a records.parquet path, an in-memory table (its hashes
    must be stored) or a :class:`RecordsSource`. Missing hashes are computed from the images.
    ``verify`` confirms hash candidates on pixels; ``crops`` also proposes cropped copies
    (both read images, so in-memory tables need ``verify=False, crops=False``).
    """
    if not tables_or_paths:
        raise MedmatError("no records tables given; pass one or more dataset folders")
    if not 0 <= threshold <= 32:
        raise MedmatError(
            f"--threshold {threshold}: use a Hamming distance between 0 and 32 bits "
            f"(recommended {DEFAULT_THRESHOLD})"
        )
    sources = [load_source(item, k) for k, item in enumerate(tables_or_paths)]
    seen: dict[str, int] = {}
    for k, src in enumerate(sources):
        key = str(src.path.resolve()) if src.path is not None else f"#{k}"
        if key in seen:
            raise MedmatError(
                f"{src.label}: given twice (also argument {seen[key] + 1}); every record would "
                "match itself. Pass each records table once."
            )
        seen[key] = k
    rows = [hash_source(src, rehash=rehash) for src in sources]
    tables = [
        {"label": r.label, "records": len(r.record_id), "hashed_now": r.computed} for r in rows
    ]

    flat = [(t, i) for t, r in enumerate(rows) for i in range(len(r.record_id))]
    by_sha: dict[str, list[int]] = {}
    nodes: list[list[int]] = []  # distinct pixel contents -> flat indices
    for f, (t, i) in enumerate(flat):
        h = rows[t].pixel_sha1[i]
        if h is None:
            nodes.append([f])
        elif h in by_sha:
            by_sha[h].append(f)
        else:
            by_sha[h] = [f]
            nodes.append(by_sha[h])

    groups: list[DuplicateGroup] = [
        DuplicateGroup("exact", _members(rows, (flat[f] for f in fs)), 0)
        for fs in by_sha.values()
        if len(fs) > 1
    ]
    if near and len(nodes) > 1:
        # hash_source guarantees every row has both hashes, so every node has a phash.
        values = to_uint64(
            np.array([rows[flat[fs[0]][0]].phash[flat[fs[0]][1]] for fs in nodes], dtype=np.int64)
        )
        reps = [flat[fs[0]] for fs in nodes]  # one record per distinct pixel content
        for comp, weakest in _near(values, threshold, rows, sources, reps, verify, crops,
                                   min_similarity):
            members = _members(rows, (flat[f] for node in comp for f in nodes[node]))
            groups.append(DuplicateGroup("near", members, max_pairwise_distance(values[comp]),
                                         weakest))

    groups.sort(key=lambda g: (g.kind != "exact", g.members[0].table, g.members[0].record_id))
    n_groups, spans = group_spans(rows)
    return LeakageReport(threshold=threshold, near=near, tables=tables, groups=groups,
                         verified=near and verify, crops=near and crops,
                         min_similarity=min_similarity if near and verify else None,
                         record_groups=n_groups, group_spans=spans)


def _near(values: np.ndarray, threshold: int, rows: list[HashedRows],
          sources: list[RecordsSource], reps: list[tuple[int, int]], verify: bool, crops: bool,
          min_similarity: float) -> list[tuple[list[int], float | None]]:
    """Near groups of distinct pixel contents (indices into ``reps``) and their weakest link."""
    if not verify and not crops:  # hash only: components straight from the hash values
        comps: dict[int, list[int]] = {}
        for node, lab in enumerate(near_components(values, threshold).tolist()):
            comps.setdefault(lab, []).append(node)
        return [(c, None) for c in comps.values() if len(c) > 1]
    for t in sorted({t for t, _ in reps}):
        if sources[t].root is None:
            raise MedmatError(
                f"{sources[t].label}: an in-memory table has no image folder, but near "
                "duplicates are confirmed on pixels and cropped copies found from the images; "
                "pass the dataset folder, or verify=False and crops=False (hashes only)"
            )

    def image(node: int) -> Image.Image:
        t, i = reps[node]
        try:
            return open_image(resolve_under_root(sources[t].root, rows[t].image[i]))
        except MedmatError as exc:
            raise MedmatError(
                f"{rows[t].label}: record {rows[t].record_id[i]!r} (row {i}): {exc}. Fix or "
                "remove the record (near duplicates are checked on its pixels)."
            ) from None

    box_hashes = None
    if crops:
        with progress_bar("hashing crop boxes", total=len(reps)) as advance:
            box_hashes = []
            for node in range(len(reps)):
                box_hashes.append(crop_hashes(image(node)))
                advance(1)
        box_hashes = np.array(box_hashes, dtype=np.int64)
    return near_groups(values, threshold, crops=box_hashes,
                       picture_of=(lambda node: picture(image(node))) if verify else None,
                       min_similarity=min_similarity)
