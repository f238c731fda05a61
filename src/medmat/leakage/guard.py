"""Exact cross-split duplicate check on the records table's ``pixel_sha1`` column.

This is the cheap check every consumer runs (the VQA builder, the CG planner): it needs no image
I/O because producers (synth, ingest) store the decoded-pixel hash in the records table.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from medmat.errors import MedmatError


def exact_cross_split_pairs(table: pa.Table) -> list[tuple[str, str]]:
    """(test record_id, train record_id) pairs whose decoded pixels are identical."""
    hashes = table.column("pixel_sha1").to_pylist()
    splits = table.column("split").to_pylist()
    ids = table.column("record_id").to_pylist()
    train_by_hash: dict[str, str] = {}
    for h, s, rid in zip(hashes, splits, ids, strict=True):
        if h and s == "train":
            train_by_hash.setdefault(h, rid)
    return [
        (rid, train_by_hash[h])
        for h, s, rid in zip(hashes, splits, ids, strict=True)
        if h and s != "train" and h in train_by_hash
    ]


def enforce_no_test_in_train(
    table: pa.Table, *, drop: bool = False, source: str = "records"
) -> tuple[pa.Table, list[str]]:
    """Refuse (or, with ``drop=True``, remove and return) test/val records that sit in training.

    Returns the kept table and the dropped record ids (to be counted in the caller's summary).
    """
    pairs = exact_cross_split_pairs(table)
    if not pairs:
        return table, []
    if not drop:
        shown = ", ".join(f"{t} == {r}" for t, r in pairs[:5])
        raise MedmatError(
            f"{source}: {len(pairs)} evaluation image(s) are pixel-identical to training images "
            f"({shown}{', ...' if len(pairs) > 5 else ''}). Fix the splits, or pass the "
            "drop option (e.g. --drop-leaky) to remove them from evaluation; the count is reported."
        )
    leaky = {t for t, _ in pairs}
    mask = pc.invert(pc.is_in(table.column("record_id"), value_set=pa.array(sorted(leaky))))
    return table.filter(mask), sorted(leaky)
