"""CSV / TSV / JSON-lines tables: a file column plus a label column, or one-hot columns.

* ``--label-column`` (default: the first of label, labels, class, ...) holds one label, or
  several split on ``--label-sep`` (multi-label); JSON-lines may hold a list instead.
* ``--onehot-column`` (repeatable) names 0/1 columns; the column names become the labels.
* ``--split-column`` (default: ``split`` if present) and ``--group-column`` (patient id...).
* File paths are relative to ``--images-root`` (default: the table's folder, like the HF
  ``metadata.jsonl`` convention); quoted commas and non-ASCII text survive (csv module, UTF-8).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from medmat.errors import MedmatError
from medmat.imaging import resolve_under_root
from medmat.ingest.labels import clean_label, split_name
from medmat.ingest.model import Candidate, SourceResult
from medmat.ingest.options import IngestOptions
from medmat.ingest.sources import Decoder

FILE_COLUMNS = ("file_name", "filename", "file", "image", "image_path", "path", "img", "filepath")
LABEL_COLUMNS = ("label", "labels", "class", "diagnosis", "target", "category", "finding")
TABLE_NAMES = ("metadata.csv", "metadata.tsv", "metadata.jsonl", "labels.csv", "labels.tsv")
TRUE = frozenset({"1", "1.0", "true", "yes", "y", "t"})
FALSE = frozenset({"0", "0.0", "false", "no", "n", "f", ""})

Row = tuple[str, dict | None, str | None]  # (where, values, error)


def find_table(path: Path) -> Path:
    """A table file, or the single metadata table inside a folder (HF imagefolder style)."""
    if path.is_file():
        return path
    if path.is_dir():
        found = [path / n for n in TABLE_NAMES if (path / n).is_file()]
        if len(found) == 1:
            return found[0]
        raise MedmatError(
            f"{path}: expected one of {', '.join(TABLE_NAMES)} in this folder, found "
            f"{[f.name for f in found] or 'none'}; pass the table file itself"
        )
    raise MedmatError(f"{path}: table file not found")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MedmatError(f"{path}: not UTF-8 text ({exc}); re-save the table as UTF-8") from None


def _csv_rows(path: Path, delimiter: str) -> tuple[list[str], Iterator[Row]]:
    reader = csv.reader(_read_text(path).splitlines(keepends=True), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise MedmatError(f"{path}: empty table (no header row)") from None
    except csv.Error as exc:
        raise MedmatError(f"{path}: unreadable header ({exc})") from None

    def rows() -> Iterator[Row]:
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield f"{path.name} line {reader.line_num}", None, f"malformed row ({exc})"
                continue
            where = f"{path.name} line {reader.line_num}"
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                yield where, None, f"has {len(values)} fields, the header has {len(header)}"
                continue
            yield where, dict(zip(header, values, strict=True)), None

    return header, rows()


def _jsonl_rows(path: Path) -> tuple[list[str], Iterator[Row]]:
    lines = _read_text(path).splitlines()
    header: dict[str, None] = {}
    parsed: list[Row] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            parsed.append((where, None, f"not valid JSON ({exc})"))
            continue
        if not isinstance(obj, dict):
            parsed.append((where, None, "not a JSON object"))
            continue
        header.update(dict.fromkeys(obj))
        parsed.append((where, obj, None))
    return list(header), iter(parsed)


def _pick(header: list[str], wanted: str | None, defaults: tuple[str, ...], what: str,
          path: Path, required: bool = True) -> str | None:
    lower = {h.lower(): h for h in header}
    if wanted:
        if wanted in header:
            return wanted
        if wanted.lower() in lower:
            return lower[wanted.lower()]
        raise MedmatError(f"{path}: no column {wanted!r} (the {what} column); columns: {header}")
    for d in defaults:
        if d in lower:
            return lower[d]
    if required:
        raise MedmatError(
            f"{path}: cannot tell which column holds the {what}; columns: {header}. "
            f"Pass --{what.replace(' ', '-')}-column NAME"
        )
    return None


def _labels(values: dict, opts: IngestOptions, label_col: str | None,
            onehot: list[str]) -> tuple[tuple[str, ...], bool, str | None]:
    """(labels, is_multi_label, error)."""
    if onehot:
        out = []
        for col in onehot:
            raw = str(values.get(col, "")).strip().lower()
            if raw not in TRUE and raw not in FALSE:
                return (), True, f"one-hot column {col!r} holds {values.get(col)!r}; use 0 or 1"
            if raw in TRUE:
                out.append(clean_label(col))
        return tuple(out), True, None
    raw = values.get(label_col)
    if isinstance(raw, list):
        return tuple(clean_label(v) for v in raw if clean_label(v)), True, None
    if opts.label_sep:
        parts = [clean_label(p) for p in str(raw or "").split(opts.label_sep)]
        return tuple(p for p in parts if p), True, None
    label = clean_label(raw)
    return ((label,) if label else ()), False, None


def scan_table(path: str | Path, decode: Decoder, opts: IngestOptions) -> SourceResult:
    table = find_table(Path(path))
    if table.suffix.lower() in (".jsonl", ".ndjson"):
        header, rows = _jsonl_rows(table)
    else:
        delim = opts.delimiter or ("\t" if table.suffix.lower() in (".tsv", ".tab") else ",")
        header, rows = _csv_rows(table, delim)
    onehot = [_pick(header, c, (), "one-hot", table) for c in opts.onehot_columns]
    label_col = None if onehot else _pick(header, opts.label_column, LABEL_COLUMNS, "label", table)
    file_col = _pick(header, opts.file_column, FILE_COLUMNS, "file", table)
    split_col = _pick(header, opts.split_column, ("split",), "split", table,
                      required=bool(opts.split_column))
    group_col = _pick(header, opts.group_column, (), "group", table,
                      required=bool(opts.group_column))
    root = Path(opts.images_root) if opts.images_root else table.parent
    if not root.is_dir():
        raise MedmatError(f"--images-root {root}: not a folder")

    cands: list[Candidate] = []
    first_seen: dict[str, str] = {}
    multi = False
    for where, values, error in rows:
        file = str(values.get(file_col) or "").strip() if values else ""
        if values is None:
            cands.append(Candidate(where, where, where, None, error=error))
            continue
        labels, is_multi, error = _labels(values, opts, label_col, onehot)
        multi = multi or is_multi
        if not labels and opts.none_label and not error:
            labels = (clean_label(opts.none_label),)
        split = None
        if split_col:
            split = split_name(values.get(split_col))
            if split is None:
                error = error or (
                    f"split {values.get(split_col)!r} in column {split_col!r}; use train, val "
                    "or test"
                )
        group = (str(values.get(group_col) or "").strip() or None) if group_col else None
        key = file.replace("\\", "/")
        if not file:
            error = error or f"empty file name in column {file_col!r}"
        elif key in first_seen:
            error = error or (
                f"{file}: listed again (first at {first_seen[key]}); list each image once"
            )
        else:
            first_seen[key] = where
        cands.append(
            Candidate(
                key=key or where,
                where=f"{where}: {file}" if file else where,
                image_rel=key or where,
                load=(lambda f=file: decode(resolve_under_root(root, f))) if file else None,
                labels=labels,
                split=split,
                group=group,
                error=error,
            )
        )
    if not cands:
        raise MedmatError(f"{table}: no data rows")
    for c in cands:
        c.multi_label = multi
    return SourceResult(cands, opts.source_name or table.parent.resolve().name)
