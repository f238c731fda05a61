"""Load records tables for the leakage report and fill in missing image hashes.

A records table normally carries ``pixel_sha1`` and ``phash`` (synth and ingest store them), so
the report needs no image I/O. Tables made elsewhere, or ones with null hashes, are hashed from
their images, each path confined to the table's folder (``resolve_under_root``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from medmat.errors import MedmatError
from medmat.imaging import open_image, phash, pixel_sha1, resolve_under_root
from medmat.progress import progress_bar
from medmat.records import records_path

REQUIRED_COLUMNS = ("record_id", "image", "split")


@dataclass
class RecordsSource:
    """One records table to compare: the table, the folder its image paths are relative to
    (needed only when hashes must be computed) and a label for the report."""

    table: pa.Table
    root: Path | None
    label: str
    path: Path | None = None  # the parquet file, to refuse the same table given twice


@dataclass
class HashedRows:
    """Column lists of one source after hashing (what the duplicate finder consumes)."""

    label: str
    record_id: list[str]
    image: list[str]
    split: list[str]
    subset: list[str]
    source: list[str]
    pixel_sha1: list[str | None]
    phash: list[int | None]
    computed: int  # how many rows were hashed from their image in this run
    group: list[str | None]  # patient / volume ids (all None when the table has no group column)


def load_source(item: RecordsSource | pa.Table | str | Path, index: int) -> RecordsSource:
    """Accept a dataset folder, a records.parquet file, a table, or a ready RecordsSource."""
    if isinstance(item, RecordsSource):
        return item
    if isinstance(item, pa.Table):
        return RecordsSource(table=item, root=None, label=f"table{index}")
    path = records_path(item)
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise MedmatError(f"{path}: not a readable Parquet records table ({exc})") from None
    return RecordsSource(table=table, root=path.parent, label=str(item), path=path)


def _column(table: pa.Table, name: str, default: object, n: int) -> list:
    if name in table.column_names:
        return table.column(name).to_pylist()
    return [default] * n


def hash_source(src: RecordsSource, *, rehash: bool = False) -> HashedRows:
    """Read the columns the report needs; hash images whose stored hashes are missing.

    ``rehash=True`` ignores stored hashes (use it when tables came from tools that hashed pixels
    in a different colour mode: ``pixel_sha1`` covers the mode, so mixed tables would not match).
    """
    table = src.table
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise MedmatError(
            f"{src.label}: records table lacks column(s) {missing}; a records table needs at "
            f"least {list(REQUIRED_COLUMNS)} (see `medmat ingest` / `medmat synth`)"
        )
    n = table.num_rows
    ids = [str(x) for x in table.column("record_id").to_pylist()]
    images = table.column("image").to_pylist()
    sha = _column(table, "pixel_sha1", None, n)
    ph = _column(table, "phash", None, n)
    todo = [i for i in range(n) if rehash or sha[i] is None or ph[i] is None]
    if todo and src.root is None:
        raise MedmatError(
            f"{src.label}: {len(todo)} record(s) have no stored pixel_sha1/phash and the table "
            "has no image root to hash them from; pass the dataset folder or records.parquet "
            "path instead of an in-memory table"
        )
    if todo:
        with progress_bar(f"hashing {src.label}", total=len(todo)) as advance:
            for i in todo:
                try:
                    img = open_image(resolve_under_root(src.root, images[i] or ""))
                except MedmatError as exc:
                    raise MedmatError(
                        f"{src.label}: record {ids[i]!r} (row {i}): {exc}. Fix or remove the "
                        "record, or store its hashes in the table."
                    ) from None
                sha[i] = pixel_sha1(img)
                ph[i] = phash(img)
                advance(1)
    return HashedRows(
        label=src.label,
        record_id=ids,
        image=[str(x) for x in images],
        split=[str(x) for x in table.column("split").to_pylist()],
        subset=[x or "" for x in _column(table, "subset", "", n)],
        source=[x or "" for x in _column(table, "source", "", n)],
        pixel_sha1=sha,
        phash=ph,
        computed=len(todo),
        group=_column(table, "group", None, n),
    )
