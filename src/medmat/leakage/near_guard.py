"""Near-duplicate variant of the train/test guard (perceptual hash within a Hamming threshold).

The exact guard (:mod:`medmat.leakage.guard`) catches pixel-identical copies; this one also
catches a JPEG re-encode or a resized copy of a training image sitting in val/test. Candidates
come from the stored ``phash`` column; given ``root`` (the folder the image paths are relative
to) each candidate is confirmed on pixels (:mod:`.similarity`), otherwise every hash candidate
counts (no image I/O, but look-alike images of one modality pair falsely). Cropped copies need
the full report (``medmat leakage``). Rows with a null phash cannot be checked and are ignored,
like the exact guard ignores null ``pixel_sha1``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from medmat.errors import MedmatError
from medmat.imaging import open_image, resolve_under_root
from medmat.leakage.nearpairs import distinct_near_pairs, to_uint64
from medmat.leakage.report import DEFAULT_THRESHOLD
from medmat.leakage.similarity import DEFAULT_MIN_SIMILARITY, Picture, picture, similarity


def near_cross_split_pairs(
    table: pa.Table, threshold: int = DEFAULT_THRESHOLD, *, root: str | Path | None = None,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
) -> list[tuple[str, str, int]]:
    """(eval record_id, train record_id, distance) for every val/test record whose phash is
    within ``threshold`` bits of some training record's phash: the nearest such record, or
    with ``root`` the nearest whose pixels match at ``min_similarity``."""
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
    trains: dict[int, list[str]] = {}  # distinct hash value -> training ids, table order
    for pos, i in enumerate(keep):
        if splits[i] == "train":
            trains.setdefault(int(inverse[pos]), []).append(ids[i])
    # training values reachable from each distinct value, nearest first
    reach: dict[int, list[tuple[int, int]]] = {v: [(0, v)] for v in trains}
    a, b, d = distinct_near_pairs(values, threshold)
    for va, vb, dist in zip(a.tolist(), b.tolist(), d.tolist(), strict=True):
        for src, dst in ((va, vb), (vb, va)):
            if src in trains:
                reach.setdefault(dst, []).append((dist, src))
    images = dict(zip(ids, table.column("image").to_pylist(), strict=True)) if root else {}

    @lru_cache(maxsize=4096)
    def pic(rid: str) -> Picture:
        return picture(open_image(resolve_under_root(root, images[rid])))

    out = []
    for pos, i in enumerate(keep):
        if splits[i] == "train":
            continue
        found = next(((dist, rid) for dist, tv in sorted(reach.get(int(inverse[pos]), []))
                      for rid in trains[tv]
                      if root is None or similarity(pic(ids[i]), pic(rid)) >= min_similarity),
                     None)
        if found:
            out.append((ids[i], found[1], found[0]))
    return out


def enforce_no_test_in_train_near(
    table: pa.Table,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    drop: bool = False,
    source: str = "records",
    root: str | Path | None = None,
) -> tuple[pa.Table, list[str]]:
    """Refuse (or, with ``drop=True``, remove and return) val/test records that are exact or
    near duplicates of training records (confirmed on pixels when ``root`` is given). Returns
    the kept table and the dropped record ids."""
    pairs = near_cross_split_pairs(table, threshold, root=root)
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
