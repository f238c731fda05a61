"""The typed records that flow down the pipeline.

taxonomy -> catalog -> ingest/synth --(ImageRecord, records.parquet)--> qa --(QAItem,
items.parquet)--> splits/train --(Prediction)--> evaluate -> report

Every stage reads and writes these columnar tables (Parquet) rather than ad-hoc JSON, so a
records table made by the synthetic lab and one made by ``medmat ingest`` are interchangeable.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from medmat.errors import MedmatError
from medmat.io import write_parquet
from medmat.predictions import (  # noqa: F401  (re-exported: every typed record from one place)
    PREDICTIONS_SCHEMA,
    Prediction,
    predictions_to_table,
    write_predictions,
)
from medmat.regions import (
    MASK_FIELD,
    REGIONS_FIELD,
    Region,
    check_regions_column,
    regions_from_column,
    regions_to_column,
)

SPLITS = ("train", "val", "test")
RECORDS_FILE = "records.parquet"


@dataclass(frozen=True)
class ImageRecord:
    """One image with its label(s) and MAT triplet.

    ``image`` is a POSIX path relative to the dataset root (the folder holding records.parquet).
    ``labels`` has one entry for single-label tasks and one or more for multi-label tasks.
    ``pixel_sha1`` is the SHA-1 of the decoded pixels converted to RGB (the one convention every
    producer follows, so tables from synth and ingest compare) and ``phash`` a 64-bit
    perceptual hash (signed int64 view); both feed the leakage guard and may be None if unknown.
    ``group`` (optional) names the patient / volume / study the image comes from: the split
    keeps a group on one side, and the leakage report counts groups found on two sides.
    ``regions`` (optional) are boxes in pixel edges of the stored image, ``mask`` the mask they
    came from (see :mod:`medmat.regions`).
    """

    record_id: str
    image: str
    labels: tuple[str, ...]
    modality: str
    area: str
    task: str
    subset: str
    split: str
    source: str = ""
    multi_label: bool = False
    pixel_sha1: str | None = None
    phash: int | None = None
    group: str | None = None
    regions: tuple[Region, ...] | None = None
    mask: str | None = None


RECORDS_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("image", pa.string()),
        ("labels", pa.list_(pa.string())),
        ("modality", pa.string()),
        ("area", pa.string()),
        ("task", pa.string()),
        ("subset", pa.string()),
        ("split", pa.string()),
        ("source", pa.string()),
        ("multi_label", pa.bool_()),
        ("pixel_sha1", pa.string()),
        ("phash", pa.int64()),
    ]
)


# Optional columns, written only when some record has a value (tables without them stay valid).
GROUP_FIELD = pa.field("group", pa.string())
OPTIONAL_FIELDS = (GROUP_FIELD, REGIONS_FIELD, MASK_FIELD)


def _schema(table_or_names: pa.Table | Sequence[str]) -> pa.Schema:
    names = table_or_names.column_names if isinstance(table_or_names, pa.Table) else table_or_names
    schema = RECORDS_SCHEMA
    for optional in OPTIONAL_FIELDS:
        if optional.name in names:
            schema = schema.append(optional)
    return schema


def records_to_table(records: Iterable[ImageRecord]) -> pa.Table:
    records = list(records)
    names = RECORDS_SCHEMA.names + [f.name for f in OPTIONAL_FIELDS
                                    if any(getattr(r, f.name) is not None for r in records)]
    cols: dict[str, list] = {name: [] for name in names}
    for rec in records:
        for name in names:
            value = getattr(rec, name)
            if name == "labels":
                value = list(value)
            elif name == "regions":
                value = regions_to_column(value)
            cols[name].append(value)
    return pa.table(cols, schema=_schema(names))


def write_records(dest: str | Path, records: Iterable[ImageRecord] | pa.Table) -> Path:
    """Validate and atomically write a records table (``dest`` is a file or a dataset folder)."""
    dest = Path(dest)
    if dest.suffix != ".parquet":
        dest = dest / RECORDS_FILE
    table = records if isinstance(records, pa.Table) else records_to_table(records)
    validate_records_table(table, source=str(dest))
    schema = _schema(table)
    return write_parquet(dest, table.select(schema.names).cast(schema))


def records_path(path: str | Path) -> Path:
    """Accept a dataset folder or the parquet file itself."""
    path = Path(path)
    if path.is_dir():
        path = path / RECORDS_FILE
    if not path.exists():
        raise MedmatError(
            f"{path}: records table not found. Make one with `medmat synth --out DIR` or "
            "`medmat ingest PATH --format ... --out DIR`."
        )
    return path


def read_records_table(path: str | Path, columns: Sequence[str] | None = None) -> pa.Table:
    path = records_path(path)
    try:
        table = pq.read_table(path, columns=list(columns) if columns else None)
    except (pa.ArrowInvalid, OSError) as exc:
        raise MedmatError(f"{path}: not a readable Parquet records table ({exc})") from None
    missing = [c for c in (columns or RECORDS_SCHEMA.names) if c not in table.column_names]
    if missing:
        raise MedmatError(
            f"{path}: records table lacks column(s) {missing}; expected {RECORDS_SCHEMA.names}"
        )
    if columns is None:
        validate_records_table(table, source=str(path))
    return table


def read_records(path: str | Path) -> list[ImageRecord]:
    table = read_records_table(path)
    return [table_row_to_record(row) for row in table.to_pylist()]


def table_row_to_record(row: dict) -> ImageRecord:
    row = dict(row)
    row["labels"] = tuple(row["labels"] or ())
    row["regions"] = regions_from_column(row.get("regions"))
    return ImageRecord(**{f.name: row.get(f.name) for f in dataclasses.fields(ImageRecord)})


def validate_records_table(table: pa.Table, source: str = "records") -> None:
    """Structural checks every producer and consumer relies on."""
    names = set(table.column_names)
    missing = [c for c in RECORDS_SCHEMA.names if c not in names]
    if missing:
        raise MedmatError(f"{source}: missing column(s) {missing}")
    ids = table.column("record_id").to_pylist()
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        dup = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise MedmatError(f"{source}: duplicate record_id {dup!r}; record ids must be unique")
    for i, (split, labels) in enumerate(
        zip(table.column("split").to_pylist(), table.column("labels").to_pylist(), strict=True)
    ):
        if split not in SPLITS:
            raise MedmatError(
                f"{source}: row {i} ({ids[i]}) has split {split!r}; use one of {SPLITS}"
            )
        problem = labels_problem(labels)
        if problem:
            raise MedmatError(f"{source}: row {i} ({ids[i]}): {problem}")
    if REGIONS_FIELD.name in names:
        check_regions_column(table.column(REGIONS_FIELD.name).to_pylist(), ids, source)


# Line breaks (a label holding one would forge an extra "B: ..." option line in a question),
# other C0/C1 controls (NUL, tab, ESC...) and lone surrogates (not storable as UTF-8).
_KINDS = {type(None): "missing", dict: "an object", list: "a list", tuple: "a list",
          bool: "a boolean", int: "a number", float: "a number"}
_BAD_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def text_problem(text: object, what: str = "label") -> str | None:
    """Why ``text`` cannot be a label (or another one-line text field), or None when it can."""
    if not isinstance(text, str):
        return f"{what} is {_KINDS.get(type(text), 'a ' + type(text).__name__)}, not text"
    if not text.strip():
        return f"empty {what}"
    bad = _BAD_TEXT.search(text)
    if bad:
        shown = text if len(text) <= 60 else text[:57] + "..."
        return (f"{what} {shown!r} contains U+{ord(bad.group()):04X} (a line break, control "
                "character or unpaired surrogate); it must be one line of printable text")
    return None


def labels_problem(labels: Sequence[object] | None) -> str | None:
    """The records schema's rule for a record's labels: at least one, each valid, none twice."""
    if not labels:
        return "empty label"
    for lab in labels:
        problem = text_problem(lab)
        if problem:
            return problem
    if len(set(labels)) != len(labels):
        dup = next(lab for i, lab in enumerate(labels) if lab in labels[:i])
        return f"label {dup!r} is listed twice in one record; list each label once"
    return None


# --------------------------------------------------------------------------------------------
# QA items (one multiple-choice question per image, Med-MAT keys plus our metadata)
# --------------------------------------------------------------------------------------------

MEDMAT_KEYS = (
    "id",
    "caption",
    "image",
    "Question",
    "Answer",
    "Question-choice",
    "Answer-choice",
    "data-no",
)
ITEMS_FILE = "items.parquet"


@dataclass(frozen=True)
class QAItem:
    """One single-choice VQA item.

    The first eight fields are exactly the published Med-MAT keys (python-safe names; see
    :data:`ITEM_COLUMN_NAMES`). ``options`` holds the option texts in letter order (A, B, ...),
    so backends never have to parse ``question_choice``. ``image`` is relative to the records
    root (``image_root`` in the build summary).

    A grounding item (a region record's "where is it?" question) has no options: ``answer`` is
    the box text in the canonical form of :mod:`medmat.qa.boxes`, ``answer_box`` the same box
    as numbers (normalised ``[x1, y1, x2, y2]`` in 0-1), ``answer_choice`` empty.
    """

    id: int
    caption: str
    image: str
    question: str
    answer: str
    question_choice: str
    answer_choice: str
    data_no: str
    options: tuple[str, ...]
    modality: str
    area: str
    task: str
    subset: str
    split: str
    record_id: str
    template: int = 0
    answer_box: tuple[float, float, float, float] | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_grounding(self) -> bool:
        return self.answer_box is not None

    @property
    def answer_index(self) -> int:
        return ord(self.answer_choice) - ord("A")


# python field name -> published column name
ITEM_COLUMN_NAMES = {
    "id": "id",
    "caption": "caption",
    "image": "image",
    "question": "Question",
    "answer": "Answer",
    "question_choice": "Question-choice",
    "answer_choice": "Answer-choice",
    "data_no": "data-no",
    "options": "options",
    "modality": "modality",
    "area": "area",
    "task": "task",
    "subset": "subset",
    "split": "split",
    "record_id": "record_id",
    "template": "template",
}

ITEMS_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("caption", pa.string()),
        ("image", pa.string()),
        ("Question", pa.string()),
        ("Answer", pa.string()),
        ("Question-choice", pa.string()),
        ("Answer-choice", pa.string()),
        ("data-no", pa.string()),
        ("options", pa.list_(pa.string())),
        ("modality", pa.string()),
        ("area", pa.string()),
        ("task", pa.string()),
        ("subset", pa.string()),
        ("split", pa.string()),
        ("record_id", pa.string()),
        ("template", pa.int32()),
    ]
)
# Written only when the build has grounding items (classification tables are unchanged).
ANSWER_BOX_FIELD = pa.field("answer_box", pa.list_(pa.float64(), 4))


def item_to_row(item: QAItem) -> dict:
    row = {col: getattr(item, attr) for attr, col in ITEM_COLUMN_NAMES.items()}
    row["options"] = list(item.options)
    row[ANSWER_BOX_FIELD.name] = list(item.answer_box) if item.answer_box is not None else None
    return row


def row_to_item(row: dict) -> QAItem:
    kwargs = {attr: row[col] for attr, col in ITEM_COLUMN_NAMES.items() if col in row}
    kwargs["options"] = tuple(kwargs.get("options") or ())
    kwargs.setdefault("template", 0)
    box = row.get(ANSWER_BOX_FIELD.name)
    kwargs["answer_box"] = tuple(box) if box is not None else None
    return QAItem(**kwargs)


def items_to_table(items: Iterable[QAItem]) -> pa.Table:
    rows = [item_to_row(i) for i in items]
    schema = ITEMS_SCHEMA
    if any(r[ANSWER_BOX_FIELD.name] is not None for r in rows):
        schema = schema.append(ANSWER_BOX_FIELD)
    else:
        for r in rows:
            del r[ANSWER_BOX_FIELD.name]
    return pa.Table.from_pylist(rows, schema=schema)


def items_path(path: str | Path) -> Path:
    """The items table of a finished build; an interrupted or edited build is refused."""
    path = Path(path)
    if path.is_dir():
        path = path / ITEMS_FILE
    if not path.exists():
        raise MedmatError(
            f"{path}: QA items not found. Build them with `medmat build RECORDS --out DIR`."
        )
    _check_build(path.parent)
    return path


def _check_build(folder: Path) -> None:
    # The build writes manifest.json last, over the digests of every file it wrote: without it
    # (or with files that no longer match it) items, jsonl and summary may come from two builds.
    from medmat.manifest import changed_outputs, read_manifest

    fix = "rebuild with `medmat build RECORDS --out DIR`"
    man = read_manifest(folder)
    if man is None or man.kind != "items":
        raise MedmatError(
            f"{folder}: no valid manifest.json, so this build is incomplete (interrupted) or was "
            f"made by an older medmat; {fix}"
        )
    changed = changed_outputs(folder, man)
    if changed:
        raise MedmatError(f"{folder}: {', '.join(changed)} changed since the build; {fix}")


def read_items_table(path: str | Path) -> pa.Table:
    path = items_path(path)
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise MedmatError(f"{path}: not a readable Parquet items table ({exc})") from None


def read_items(path: str | Path) -> list[QAItem]:
    return [row_to_item(r) for r in read_items_table(path).to_pylist()]
