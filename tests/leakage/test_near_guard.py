"""The near-duplicate train/test guard: refuse, or drop and report."""

from __future__ import annotations

import pyarrow as pa
import pytest

from medmat.errors import MedmatError
from medmat.leakage import (
    enforce_no_test_in_train,
    enforce_no_test_in_train_near,
    near_cross_split_pairs,
)
from medmat.records import read_records_table


def test_near_guard_refuses_what_exact_guard_misses(planted):
    table = read_records_table(planted["a"])
    _, dropped_exact = enforce_no_test_in_train(table, drop=True)
    assert dropped_exact == ["t-exact"]
    with pytest.raises(MedmatError) as err:
        enforce_no_test_in_train_near(table, 6, source="lab/records.parquet")
    msg = str(err.value)
    assert msg.startswith("lab/records.parquet: 3 evaluation image(s) are near duplicates")
    assert "t-jpeg ~ a-train-01" in msg and "--drop-leaky" in msg and "within 6 bits" in msg


def test_near_guard_drop_returns_kept_table_and_ids(planted):
    table = read_records_table(planted["a"])
    kept, dropped = enforce_no_test_in_train_near(table, 6, drop=True)
    assert dropped == ["t-exact", "t-jpeg", "t-small"]
    assert kept.num_rows == table.num_rows - 3
    assert not set(dropped) & set(kept.column("record_id").to_pylist())
    # nothing left to refuse afterwards
    assert enforce_no_test_in_train_near(kept, 6) == (kept, [])


def test_pairs_name_the_closest_training_image():
    ids = ["tr1", "tr2", "te1", "te2", "va1", "te-null"]
    table = pa.table({
        "record_id": ids,
        "split": ["train", "train", "test", "test", "val", "test"],
        "phash": pa.array([0b0, 0b1111, 0b111, 2**40 - 1, 0b1111, None], pa.int64()),
    })
    pairs = near_cross_split_pairs(table, threshold=3)
    # te1 (0b111) is 3 bits from tr1 and 1 bit from tr2: the closest one is named
    assert pairs == [("te1", "tr2", 1), ("va1", "tr2", 0)]
    assert near_cross_split_pairs(table, threshold=0) == [("va1", "tr2", 0)]


def test_missing_phash_column_is_explained():
    table = pa.table({"record_id": ["a"], "split": ["test"]})
    with pytest.raises(MedmatError, match="no phash column"):
        enforce_no_test_in_train_near(table)
    empty = pa.table({"record_id": ["a"], "split": ["test"], "phash": pa.array([None], pa.int64())})
    assert near_cross_split_pairs(empty) == []
