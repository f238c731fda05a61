"""Pass 0: unique record ids and the leakage guard, in memory that stays small per record.

The exact check needs every record's pixel hash, so some memory per record is unavoidable; here
it is 17 bytes (64-bit hashes of record_id and pixel_sha1, a split code) in numpy instead of
python objects. Rows whose hashes could pair a training image with an evaluation image are
then re-read exactly and handed to the shared guard
(:func:`medmat.leakage.enforce_no_test_in_train`), which decides with the full strings, so a
64-bit collision can only cost a re-read, never a wrong verdict.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from medmat.errors import MedmatError
from medmat.leakage import enforce_no_test_in_train
from medmat.qa.rng import fnv1a64_np

_COLUMNS = ["record_id", "split", "pixel_sha1"]


def _scan(pf: pq.ParquetFile, batch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ids, shas, train = [], [], []
    for batch in pf.iter_batches(batch_size=batch_size, columns=_COLUMNS):
        ids.append(fnv1a64_np(batch.column("record_id").fill_null("")))
        sha = batch.column("pixel_sha1")
        h = fnv1a64_np(sha.fill_null(""))
        h[np.asarray(sha.is_null())] = 0  # 0 = unknown pixels (never matched)
        shas.append(h)
        train.append(np.asarray(pc.equal(batch.column("split"), "train").fill_null(False)))
    return (np.concatenate([np.zeros(0, np.uint64), *ids]),
            np.concatenate([np.zeros(0, np.uint64), *shas]),
            np.concatenate([np.zeros(0, bool), *train]))


def _rows_with(pf: pq.ParquetFile, batch_size: int, column: str, hashes: np.ndarray) -> pa.Table:
    """The (record_id, split, pixel_sha1) rows whose ``column`` hashes into ``hashes``."""
    parts = []
    for batch in pf.iter_batches(batch_size=batch_size, columns=_COLUMNS):
        h = fnv1a64_np(batch.column(column).fill_null(""))
        parts.append(pa.Table.from_batches([batch.filter(pa.array(np.isin(h, hashes)))]))
    return pa.concat_tables(parts)


def check_ids_and_leaks(pf: pq.ParquetFile, source: str, drop: bool,
                        batch_size: int) -> list[str]:
    """Raise on duplicate record ids; refuse (or list, to drop) leaky evaluation records."""
    ids, shas, train = _scan(pf, batch_size)
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        rows = _rows_with(pf, batch_size, "record_id", uniq[counts > 1]).column("record_id")
        seen = pa.table({"id": rows}).group_by("id").aggregate([("id", "count")])
        dup = seen.filter(pc.greater(seen.column("id_count"), 1))
        if dup.num_rows:
            raise MedmatError(f"{source}: duplicate record_id {dup.column('id')[0].as_py()!r}; "
                              "record ids must be unique")
    known = shas != 0
    in_train = np.unique(shas[train & known])
    suspect = np.unique(shas[~train & known & np.isin(shas, in_train)])
    if len(suspect) == 0:
        return []
    candidates = _rows_with(pf, batch_size, "pixel_sha1", suspect)
    _, dropped = enforce_no_test_in_train(candidates, drop=drop, source=source)
    return dropped
