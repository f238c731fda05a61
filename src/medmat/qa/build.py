"""Records table -> QA items: the streaming file build and the in-memory generator.

``build`` reads the records table twice, batch by batch: pass 1 (narrow columns) validates the
records and collects each subset's label space; pass 2 writes items.jsonl and items.parquet
through temporary files that are renamed only when everything succeeded, then summary.json.
Before pass 1 a pass 0 (:mod:`medmat.qa.leak`) checks record ids are unique and runs the leakage
guard (``medmat.leakage.enforce_no_test_in_train``), which refuses, or with ``drop_leaky``
removes, evaluation records whose pixels equal a training image's. Pass 0 keeps 17 bytes per
record (the one part of the build whose memory grows with the table); everything else holds
one batch at a time.

Records with regions become grounding items (:mod:`medmat.qa.grounding`); a build that has any
writes the ``answer_box`` column (null for classification items) and a ``grounding`` section in
summary.json. A build without them writes exactly what it always did.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from medmat.errors import MedmatError
from medmat.io import atomic_path, staged_dir, write_json
from medmat.manifest import (
    Manifest,
    file_digest,
    fingerprint,
    output_digests,
    source_digest,
    write_manifest,
)
from medmat.qa.core import ItemFactory
from medmat.qa.grounding import (
    GROUNDING_CLOSING,
    GROUNDING_POLICY,
    GROUNDING_SCHEMA,
    GroundingMaker,
    make_items,
)
from medmat.qa.labels import PASS1_COLUMNS, LabelScanner
from medmat.qa.leak import check_ids_and_leaks
from medmat.qa.rng import check_seed
from medmat.qa.templates import TemplateSet, load_templates, resolve_templates
from medmat.records import ITEMS_FILE, ITEMS_SCHEMA, RECORDS_SCHEMA, QAItem, row_to_item
from medmat.records import records_path as _records_path
from medmat.regions import REGIONS_FIELD

DEFAULT_BATCH = 65536
JSONL_FILE = "items.jsonl"
SUMMARY_FILE = "summary.json"
PASS2_COLUMNS = ["record_id", "image", "labels", "modality", "area", "task", "subset", "split",
                 "source"]
_LISTED = 100  # ids listed in the summary for skipped / dropped records (counts are complete)
MULTI_LABEL_POLICY = (
    "One item per multi-label record. The correct option is one of the image's true labels, "
    "picked by the item's random stream; distractors are drawn only from labels of the subset "
    "that are false for the image, so exactly one option is true. With fewer than three false "
    "labels the item has fewer options; with none the record yields no item and is listed under "
    "`skipped`. The caption lists all true labels joined by ', '."
)
BALANCE_SCHEME = (
    "Correct-answer letters are balanced within each (subset, split, number of options, correct "
    "label) group: consecutive blocks of n items use one seeded permutation of the n letters."
)


def _version() -> str:
    try:
        return importlib.metadata.version("medmat")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - source checkout
        return "unknown"


def _check_columns(names: list[str], source: str, needed: list[str]) -> None:
    missing = [c for c in needed if c not in names]
    if missing:
        raise MedmatError(f"{source}: records table lacks column(s) {missing}; expected the "
                          f"records schema {RECORDS_SCHEMA.names}")


def _check_unique_ids(ids: pa.Array | pa.ChunkedArray, source: str) -> None:
    if pc.count_distinct(ids).as_py() != len(ids):
        counts = pa.table({"id": ids}).group_by("id").aggregate([("id", "count")])
        dup = counts.filter(pc.greater(counts.column("id_count"), 1)).column("id")[0].as_py()
        raise MedmatError(f"{source}: duplicate record_id {dup!r}; record ids must be unique")


def iter_items(
    records_table: pa.Table,
    *,
    seed: int = 0,
    templates: TemplateSet | str | Path | Mapping | None = None,
    batch_size: int = DEFAULT_BATCH,
    image_root: str | Path | None = None,
) -> Iterator[QAItem]:
    """QA items of an in-memory records table, in table order (``id`` = row index).

    Same algorithm and output as :func:`build` without the leakage guard (callers that need
    it run ``enforce_no_test_in_train`` first); records that yield no item are left out.
    ``image_root`` (the folder image paths are relative to) is needed for records with
    regions, whose boxes are normalised by their image's size.
    """
    if not isinstance(records_table, pa.Table):
        raise MedmatError(f"records_table: expected a pyarrow.Table, got "
                          f"{type(records_table).__name__} (read one with read_records_table)")
    seed = check_seed(seed)
    _check_batch(batch_size)
    tset = resolve_templates(templates)
    _check_columns(records_table.column_names, "records_table", PASS1_COLUMNS + PASS2_COLUMNS)
    _check_unique_ids(records_table.column("record_id"), "records_table")
    extra = _region_columns(records_table.column_names)
    scanner = LabelScanner("records_table")
    for batch in records_table.select(PASS1_COLUMNS + extra).to_batches(batch_size):
        scanner.add(batch)
    spaces = scanner.finish()
    factory = ItemFactory(spaces, tset, seed, box_column=scanner.grounding > 0)
    grounder = GroundingMaker(tset, seed, Path(image_root) if image_root is not None else None)
    return _generate(records_table.select(PASS2_COLUMNS + extra), factory, grounder, batch_size)


def _region_columns(names: list[str]) -> list[str]:
    """The regions column when the table has one (it decides which records are grounding)."""
    return [REGIONS_FIELD.name] if REGIONS_FIELD.name in names else []


def _generate(table: pa.Table, factory: ItemFactory, grounder: GroundingMaker,
              batch_size: int) -> Iterator[QAItem]:
    first = 0
    for batch in table.to_batches(max_chunksize=batch_size):
        ids = np.arange(first, first + batch.num_rows, dtype=np.int64)
        out = make_items(factory, grounder, batch, ids)
        first += batch.num_rows
        for row in out.table.to_pylist():
            yield row_to_item(row)


def _check_batch(batch_size: object) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise MedmatError(f"batch_size={batch_size!r}: use a positive integer")


def _open(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise MedmatError(f"{path}: not a readable Parquet records table ({exc})") from None


def _batches(pf: pq.ParquetFile, columns: list[str], batch_size: int, drop: pa.Array | None):
    """(batch, row ids, rows read) without the dropped records; ids are rows of the table."""
    first = 0
    for batch in pf.iter_batches(batch_size=batch_size, columns=columns):
        ids = np.arange(first, first + batch.num_rows, dtype=np.int64)
        first += batch.num_rows
        if drop is not None:
            keep = pc.invert(pc.is_in(batch.column("record_id"), value_set=drop))
            ids = ids[np.asarray(keep)]
            batch = batch.filter(keep)
        yield batch, ids, len(keep) if drop is not None else batch.num_rows


def build(
    records_path: str | Path,
    out_dir: str | Path,
    *,
    seed: int = 0,
    templates_file: str | Path | None = None,
    drop_leaky: bool = False,
    batch_size: int = DEFAULT_BATCH,
    progress: bool = False,
    extra_inputs: Mapping[str, str] | None = None,
) -> dict:
    """Write ``out_dir``/items.jsonl, items.parquet and summary.json; return the summary.

    The folder appears as one unit (built beside ``out``, swapped in by one rename), with
    ``manifest.json`` (see :mod:`medmat.manifest`) over the digests of the files: a folder whose
    manifest is missing or does not match its files is refused by
    :func:`medmat.records.read_items`. ``extra_inputs`` adds content fingerprints the caller
    vouches for (the experiment runner adds the images').
    """
    seed = check_seed(seed)
    _check_batch(batch_size)
    tset = load_templates(templates_file)
    path = _records_path(records_path)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise MedmatError(f"--out {out}: exists and is not a directory; choose a folder")
    pf = _open(path)
    _check_columns(pf.schema_arrow.names, str(path), RECORDS_SCHEMA.names)
    n_records = pf.metadata.num_rows
    if n_records == 0:
        raise MedmatError(f"{path}: the records table is empty; nothing to build")

    dropped = check_ids_and_leaks(pf, str(path), drop_leaky, batch_size)
    drop = pa.array(dropped, type=pa.string()) if dropped else None

    extra = _region_columns(pf.schema_arrow.names)
    scanner = LabelScanner(str(path))
    for batch, _, _ in _batches(pf, PASS1_COLUMNS + extra, batch_size, drop):
        scanner.add(batch)
    spaces = scanner.finish()
    grounding = scanner.grounding > 0
    factory = ItemFactory(spaces, tset, seed, box_column=grounding)
    grounder = GroundingMaker(tset, seed, path.parent)
    schema = GROUNDING_SCHEMA if grounding else ITEMS_SCHEMA
    n_grounding = 0

    counts: dict[str, dict[str, int]] = {}
    skipped: list[dict] = []
    n_items = 0
    bar = _bar(progress, n_records)
    # Everything is written into a staging folder that replaces ``out`` in one rename: a kill
    # at any point leaves the old build or the new one, never a mix of the two.
    with staged_dir(out) as stage:
        with atomic_path(stage / JSONL_FILE) as jtmp, atomic_path(stage / ITEMS_FILE) as ptmp, \
                open(jtmp, "wb") as jf, pq.ParquetWriter(ptmp, schema) as pw, \
                bar as advance:
            for batch, ids, n_read in _batches(pf, PASS2_COLUMNS + extra, batch_size, drop):
                res = make_items(factory, grounder, batch, ids)
                skipped.extend(res.skipped)
                if res.table.num_rows:
                    pw.write_table(res.table)
                    jf.write(res.jsonl)
                    n_items += res.table.num_rows
                    if grounding:
                        n_grounding += len(res.table.column("answer_box").drop_null())
                    grouped = res.table.group_by(["subset", "split"]).aggregate([("id", "count")])
                    for row in grouped.to_pylist():
                        by = counts.setdefault(row["subset"], {})
                        by[row["split"]] = by.get(row["split"], 0) + row["id_count"]
                advance(n_read)

        summary = {
            "medmat_version": _version(),
            "seed": seed,
            "records": str(path.resolve()),
            "image_root": str(path.parent.resolve()),
            "files": {"jsonl": JSONL_FILE, "parquet": ITEMS_FILE},
            "n_records": n_records,
            "n_items": n_items,
            "counts": counts,
            "n_options": {s: {str(k): v for k, v in sorted(c.items())}
                          for s, c in factory.n_options.items()},
            "letters": factory.letters.summary(),
            "label_spaces": {s: list(labs) for s, labs in spaces.labels.items()},
            "templates": {
                "sources": list(tset.sources),
                "by_subset": {s: sorted(v) for s, v in factory.template_sources.items()},
                "texts": _template_texts(tset, factory.template_sources),
            },
            "skipped": {"count": len(skipped), "items": skipped[:_LISTED]},
            "leakage": {"drop_leaky": bool(drop_leaky), "dropped": len(dropped),
                        "dropped_record_ids": dropped[:_LISTED]},
            "multi_label_policy": MULTI_LABEL_POLICY,
            "letter_balance": BALANCE_SCHEME,
        }
        if grounding:
            summary["grounding"] = {
                "n_items": n_grounding, "policy": GROUNDING_POLICY, "closing": GROUNDING_CLOSING,
                "box_format": "[x1, y1, x2, y2] normalised to 0-1, three decimals",
                "templates": list(tset.grounding),
            }
        write_json(stage / SUMMARY_FILE, summary)
        want = items_manifest(path, seed, tset, drop_leaky, extra_inputs)
        outputs = output_digests(stage, [JSONL_FILE, ITEMS_FILE, SUMMARY_FILE])
        write_manifest(stage, want.with_outputs(outputs))
    return summary


def items_manifest(
    records: str | Path,
    seed: int,
    templates: TemplateSet,
    drop_leaky: bool,
    extra_inputs: Mapping[str, str] | None = None,
) -> Manifest:
    """What a build from these inputs must be: templates by content, records by their bytes."""
    tset = templates
    config = {
        "seed": seed,
        "templates": fingerprint({"generic": tset.generic, "tasks": tset.tasks,
                                  "subsets": tset.subsets, "grounding": tset.grounding}),
        "drop_leaky": bool(drop_leaky),
        # the item builder's code (sampling, balancing, formatting): a change rebuilds the items
        "code": source_digest("qa/*.py"),
    }
    inputs = {"records": file_digest(_records_path(records)), **dict(extra_inputs or {})}
    return Manifest("items", config, inputs)


def _template_texts(tset: TemplateSet, used: dict[str, set[str]]) -> dict[str, list[str]]:
    texts: dict[str, list[str]] = {}
    for source in sorted({s for v in used.values() for s in v}):
        kind, _, name = source.partition(":")
        raw = {"subset": tset.subsets, "task": tset.tasks}.get(kind, {}).get(name, tset.generic)
        texts[source] = list(raw)
    return texts


def _bar(progress: bool, total: int):
    if not progress:
        return contextlib.nullcontext(lambda n=1: None)
    from medmat.progress import progress_bar

    return progress_bar("building QA items", total)
