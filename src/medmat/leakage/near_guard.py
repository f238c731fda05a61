"""Near-duplicate variant of the train/test guard (perceptual hash within a Hamming threshold).

The exact guard (:mod:`medmat.leakage.guard`) catches pixel-identical copies; this one also
catches a JPEG re-encode or a resized copy of a training image sitting in val/test. It reads only
the stored ``phash`` column (no image I/O); rows with a null phash cannot be checked and are
reported by :func:`near_cross_split_pairs` callers as they see fit (the guard ignores them,
like the exact guard ignores null ``pixel_sha1``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from medmat.errors import MedmatError
from medmat.leakage.nearpairs import distinct_near_pairs, to_uint64
from medmat.leakage.report import DEFAULT_THRESHOLD


def near_cross_split_pairs(
    table: pa.Table, threshold: int = DEFAULT_THRESHOLD
) -> list[tuple[str, str, int]]:
    """(eval record_id, nearest train record_id, distance) for every val/test record whose
    phash is within ``threshold`` bits of some training record's phash."""
    if "phash" not in table.column_names:
        raise MedmatError(
            "records table has no phash column; the near-duplicate guard needs stored perceptual "
            "hashes (re-create the table with `medmat synth` / `medmat ingest`)"
        )
    ph = table.column("phash").to_pylist()
    splits = table.column("split").to_pylist()
    ids = table.column("record_id").to_pylist()
    keep = [i for i, p in enumerate(ph) if p is not None]
    if not keep:
        return []
    values, inverse = np.unique(
        to_uint64(np.array([ph[i] for i in keep], dtype=np.int64)), return_inverse=True
    )
    # first training record per distinct hash value (deterministic: table order)
    train_of: dict[int, str] = {}
    for pos, i in enumerate(keep):
        if splits[i] == "train":
            train_of.setdefault(int(inverse[pos]), ids[i])
    # best (distance, train id) reachable from each distinct value
    best: dict[int, tuple[int, str]] = {v: (0, rid) for v, rid in train_of.items()}
    a, b, d = distinct_near_pairs(values, threshold)
    for va, vb, dist in zip(a.tolist(), b.tolist(), d.tolist(), strict=True):
        for src, dst in ((va, vb), (vb, va)):
            if src in train_of and (dst not in best or dist < best[dst][0]):
                best[dst] = (dist, train_of[src])
    out = []
    for pos, i in enumerate(keep):
        v = int(inverse[pos])
        if splits[i] != "train" and v in best:
            dist, rid = best[v]
            out.append((ids[i], rid, dist))
    return out


def enforce_no_test_in_train_near(
    table: pa.Table,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    drop: bool = False,
    source: str = "records",
) -> tuple[pa.Table, list[str]]:
    """Refuse (or, with ``drop=True``, remove and return) val/test records that are exact or
    near duplicates of training records. Returns the kept table and the dropped record ids."""
    pairs = near_cross_split_pairs(table, threshold)
    if not pairs:
        return table, []
    if not drop:
        shown = ", ".join(f"{t} ~ {r} (distance {d})" for t, r, d in pairs[:5])
        raise MedmatError(
            f"{source}: {len(pairs)} evaluation image(s) are near duplicates of training images "
            f"(perceptual hash within {threshold} bits: {shown}{', ...' if len(pairs) > 5 else ''}"
            "). Fix the splits, lower the threshold if these are false positives, or pass the "
            "drop option (e.g. --drop-leaky) to remove them from evaluation; the count is reported."
        )
    leaky = sorted({t for t, _, _ in pairs})
    mask = pc.invert(pc.is_in(table.column("record_id"), value_set=pa.array(leaky)))
    return table.filter(mask), leaky
