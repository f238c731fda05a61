"""CSV / TSV / JSON-lines tables: a file column plus a label column, or one-hot columns.

* ``--label-column`` (default: the first of label, labels, class, ...) holds one label, or
  several split on ``--label-sep`` (multi-label); JSON-lines may hold a list instead.
* ``--onehot-column`` (repeatable) names 0/1 columns; the column names become the labels.
* ``--split-column`` (default: ``split`` if present) and ``--group-column`` (patient id...).
* File paths are relative to ``--images-root`` (default: the table's folder, like the HF
  ``metadata.jsonl`` convention); quoted commas and non-ASCII text survive (csv module, UTF-8).
* Every value is checked at the door: a path is normalised (``./a.png`` is ``a.png``) before
  duplicates are looked for; in JSON-lines a label, path or split must be a string (a group may
  be a number); a NUL byte anywhere in a CSV row makes that row an error.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from medmat.errors import MedmatError
from medmat.imaging import resolve_under_root
from medmat.ingest.labels import clean_label, label_value, normalise_rel, split_name
from medmat.ingest.model import Candidate, SourceResult
from medmat.ingest.options import IngestOptions
from medmat.ingest.sources import Decoder
from medmat.ingest.textio import json_problem, read_text
from medmat.records import text_problem

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


NUL = "\x00"
NUL_REASON = "contains a NUL byte (binary or corrupted data); re-save the table as UTF-8 text"


def _shown(value: object) -> str:
    """A value for a message: short, and never the repr of a nested structure."""
    if isinstance(value, dict | list):
        return f"a JSON {'object' if isinstance(value, dict) else 'list'}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _csv_rows(path: Path, delimiter: str) -> tuple[list[str], Iterator[Row]]:
    reader = csv.reader(read_text(path).splitlines(keepends=True), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise MedmatError(f"{path}: empty table (no header row)") from None
    except csv.Error as exc:
        raise MedmatError(f"{path}: unreadable header ({exc})") from None
    if any(NUL in h for h in header):
        raise MedmatError(f"{path}: the header row {NUL_REASON}")
    dups = sorted({h for h in header if header.count(h) > 1})
    if dups:
        raise MedmatError(
            f"{path}: column name(s) {dups} appear more than once in the header; rename them "
            "so every column has its own name"
        )

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
            if any(NUL in v for v in values):
                yield where, None, NUL_REASON
                continue
            if len(values) != len(header):
                yield where, None, f"has {len(values)} fields, the header has {len(header)}"
                continue
            yield where, dict(zip(header, values, strict=True)), None

    return header, rows()


def _jsonl_rows(path: Path) -> tuple[list[str], Iterator[Row]]:
    # split on "\n" only: JSON escapes every line break inside strings, and str.splitlines
    # would also cut at U+2028 and friends, which JSON allows unescaped
    lines = read_text(path).split("\n")
    header: dict[str, None] = {}
    parsed: list[Row] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {n}"
        obj, problem = json_problem(line)
        if problem:
            parsed.append((where, None, problem))
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
            value = values.get(col, "")
            raw = str(value).strip().lower() if isinstance(value, str | int | float) else "?"
            if raw not in TRUE and raw not in FALSE:
                return (), True, f"one-hot column {col!r} holds {_shown(value)}; use 0 or 1"
            if raw in TRUE:
                out.append(clean_label(col))
        return tuple(out), True, None
    raw = values.get(label_col)
    what = f"label in column {label_col!r}"
    try:
        if isinstance(raw, list):
            labels = [label_value(v, what) for v in raw]
            return tuple(lab for lab in labels if lab), True, None
        label = label_value(raw, what)
    except MedmatError as exc:
        return (), isinstance(raw, list), str(exc)
    if opts.label_sep:
        parts = [clean_label(p) for p in label.split(opts.label_sep)]
        return tuple(p for p in parts if p), True, None
    return ((label,) if label else ()), False, None


def _text(values: dict, col: str | None, what: str,
          numbers: bool = False) -> tuple[str, str | None]:
    """(a one-line string cell, or '' when empty; why it is refused). JSON numbers only where
    ``numbers`` (a patient id may be one; a file name may not)."""
    value = values.get(col) if col else None
    if value is None or value == "":
        return "", None
    if numbers and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    problem = text_problem(value, f"{what} in column {col!r}")
    if problem and isinstance(value, str) and not value.strip():
        return "", None
    return ("", problem) if problem else (value.strip(), None)


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
        if values is None:
            cands.append(Candidate(where, where, where, None, error=error))
            continue
        labels, is_multi, error = _labels(values, opts, label_col, onehot)
        multi = multi or is_multi
        if not labels and opts.none_label and not error:
            labels = (clean_label(opts.none_label),)
        split = None
        if split_col:
            raw = values.get(split_col)
            split = split_name(raw) if isinstance(raw, str) else None
            if split is None:
                error = error or (
                    f"split {_shown(raw)} in column {split_col!r}; use train, val or test"
                )
        group, problem = _text(values, group_col, "group", numbers=True)
        error = error or problem
        file, problem = _text(values, file_col, "file name")
        key = ""
        if file:
            try:
                key = normalise_rel(file)
            except MedmatError as exc:
                file, problem = "", str(exc)
        if problem:
            error = error or problem
        elif not file:
            error = error or f"empty file name in column {file_col!r}"
        elif key in first_seen:
            # after normalisation: 'a.png', './a.png' and 'a//b.png'-style spellings collide
            same = "" if key == file else f", the same path as {key!r}"
            error = error or (
                f"listed again (first at {first_seen[key]}{same}); list each image once"
            )
        else:
            first_seen[key] = f"{where}: {file}"
        cands.append(
            Candidate(
                key=key or where,
                where=f"{where}: {file}" if file else where,
                image_rel=key or where,
                load=(lambda k=key: decode(resolve_under_root(root, k))) if key else None,
                labels=labels,
                split=split,
                group=group or None,
                error=error,
            )
        )
    if not cands:
        raise MedmatError(f"{table}: no data rows")
    for c in cands:
        c.multi_label = multi
    return SourceResult(cands, opts.source_name or table.parent.resolve().name, root=root)
