"""Regenerate the package catalog from the upstream Med-MAT tables.

    python -m medmat.catalog.build /work/shared/medmat/catalog [--out src/medmat/catalog]

Reads the upstream ``datasets.csv`` and ``subsets.csv``, normalises every modality / area / task
through the taxonomy, applies the generic repairs (missing numbers, duplicate sources, subset
membership) and the hand decisions in ``curation.yaml``, and writes ``datasets.csv``,
``subsets.csv`` and ``fixes.csv`` (atomically). Every change to an upstream value is recorded in
``fixes.csv``; the upstream text also stays in the ``*_raw`` columns. The package never reads
the upstream files at run time: the generated CSVs are committed.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from medmat.catalog.model import (
    DATASET_COLUMNS,
    DATASETS_FILE,
    FIX_COLUMNS,
    FIXES_FILE,
    SUBSET_COLUMNS,
    SUBSETS_FILE,
)
from medmat.catalog.repairs import (
    Recorder,
    add_flag,
    apply_fix,
    assign_subsets,
    fix_typos,
    link_same_source,
    recover_numbers,
    released_value,
    row_of,
)
from medmat.errors import MedmatError
from medmat.io import write_text
from medmat.taxonomy import Taxonomy, load_taxonomy

UPSTREAM_DATASET_COLUMNS = (
    "no",
    "name",
    "source_url",
    "modality",
    "area",
    "task",
    "qa_file",
    "released",
)
UPSTREAM_SUBSET_COLUMNS = ("no", "modality", "area", "task", "qa_file", "released")


def load_curation(path: Path | None = None) -> dict[str, Any]:
    text = (
        path.read_text(encoding="utf-8")
        if path
        else (resources.files("medmat.catalog") / "curation.yaml").read_text(encoding="utf-8")
    )
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise MedmatError(
            f"curation file {path or 'curation.yaml'}: invalid YAML ({exc})"
        ) from None
    return data


def read_upstream(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MedmatError(
            f"upstream table {path} not found; pass the folder holding "
            f"{DATASETS_FILE} and {SUBSETS_FILE}"
        ) from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in columns if c not in (reader.fieldnames or ())]
    if missing:
        raise MedmatError(f"{path}: missing column(s) {missing}; expected {list(columns)}")
    return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]


def _normalise(tax: Taxonomy, kind: str, raw: str, table: str, row: str, rec: Recorder) -> str:
    match = tax.match(kind, raw, where=f"upstream {table}.csv row {row}, column {kind}")
    if match.via == "synonym":
        rec.add(
            table,
            row,
            kind,
            raw,
            match.term.name,
            "synonym",
            f"{raw!r} is a synonym of {kind} {match.term.name!r} (taxonomy)",
        )
    return match.term.name


def build(
    upstream: str | Path,
    out: str | Path | None = None,
    *,
    curation: Path | None = None,
    taxonomy: Taxonomy | None = None,
) -> dict[str, list[dict[str, str]]]:
    """Build the catalog tables; write them to ``out`` (a folder) when given. Returns the rows."""
    upstream = Path(upstream)
    tax = taxonomy or load_taxonomy()
    cur = load_curation(curation)
    typos: dict[str, str] = {str(k): str(v) for k, v in (cur.get("typos") or {}).items()}
    rec = Recorder()
    up_ds = read_upstream(upstream / DATASETS_FILE, UPSTREAM_DATASET_COLUMNS)
    up_ss = read_upstream(upstream / SUBSETS_FILE, UPSTREAM_SUBSET_COLUMNS)
    raw_nos = [r["no"] for r in up_ds]
    recover_numbers(up_ds, rec)
    _check_unique([r["no"] for r in up_ds if r["no"]], "datasets")

    # -- subsets -------------------------------------------------------------------------------
    subsets: dict[str, dict[str, str]] = {}
    for r in up_ss:
        no = f"{int(r['no']):02d}" if r["no"].isdigit() else r["no"]
        s = {
            "no": no,
            "task_raw": r["task"],
            "qa_file": r["qa_file"],
            "released_raw": r["released"],
            "modality_raw": r["modality"],
            "area_raw": r["area"],
            "flags": "",
            "notes": "",
        }
        s["modality"] = _normalise(tax, "modality", r["modality"], "subsets", no, rec)
        s["area"] = _normalise(tax, "area", r["area"], "subsets", no, rec)
        s["task"] = tax.normalize(
            "task", fix_typos(r["task"], typos), where=f"upstream subsets.csv row {no}, column task"
        )
        s["released"] = released_value(r["released"], "subsets", no, rec)
        subsets[no] = s
    _check_unique(list(subsets), "subsets")
    for f in cur.get("subset_fixes") or []:
        apply_fix(subsets, "subsets", str(f["row"]), f, tax, rec)

    # -- datasets ------------------------------------------------------------------------------
    datasets: dict[str, dict[str, str]] = {}
    for i, r in enumerate(up_ds):
        no = r["no"] or f"line {i + 2}"
        d = {
            "no": r["no"],
            "no_raw": raw_nos[i],
            "name_raw": r["name"],
            "source_url_raw": r["source_url"],
            "modality_raw": r["modality"],
            "area_raw": r["area"],
            "task_raw": r["task"],
            "released_raw": r["released"],
            "qa_file": r["qa_file"],
            "source_url": r["source_url"],
            "flags": "",
            "notes": "",
        }
        d["name"] = fix_typos(r["name"], typos)
        if d["name"] != r["name"]:
            rec.add("datasets", no, "name", r["name"], d["name"], "fix", "spelling")
        d["task_text"] = fix_typos(r["task"], typos)
        if d["task_text"] != r["task"]:
            rec.add(
                "datasets",
                no,
                "task_raw",
                r["task"],
                d["task_text"],
                "flag",
                "spelling; task_raw keeps the upstream text, the family is derived from "
                "the corrected text",
            )
        d["modality"] = _normalise(tax, "modality", r["modality"], "datasets", no, rec)
        d["area"] = _normalise(tax, "area", r["area"], "datasets", no, rec)
        d["task"] = (
            tax.normalize("task", d["task_text"]) if tax.is_known("task", d["task_text"]) else ""
        )
        d["released"] = released_value(r["released"], "datasets", no, rec)
        if not d["qa_file"] and d["released"] == "true":
            add_flag(d, "missing-qa-file")
            rec.add("datasets", no, "qa_file", "", "", "flag", "released but no QA file named")
        datasets[no] = d
    for f in cur.get("dataset_fixes") or []:
        apply_fix(datasets, "datasets", str(f["row"]), f, tax, rec)
    for f in cur.get("dataset_flags") or []:
        d = row_of(datasets, "datasets", str(f["row"]))
        add_flag(d, str(f["flag"]))
        rec.add("datasets", f["row"], "flags", "", f["flag"], "flag", str(f["reason"]))

    link_same_source(datasets, cur, rec)
    assign_subsets(datasets, subsets, cur, rec)

    tables = {
        DATASETS_FILE: [{c: d.get(c, "") for c in DATASET_COLUMNS} for d in _sorted(datasets)],
        SUBSETS_FILE: [{c: s.get(c, "") for c in SUBSET_COLUMNS} for s in subsets.values()],
        FIXES_FILE: rec.rows,
    }
    if out is not None:
        for name, rows in tables.items():
            write_text(Path(out) / name, to_csv(rows, _columns(name)))
    return tables


def _columns(name: str) -> tuple[str, ...]:
    return {DATASETS_FILE: DATASET_COLUMNS, SUBSETS_FILE: SUBSET_COLUMNS, FIXES_FILE: FIX_COLUMNS}[
        name
    ]


def to_csv(rows: list[dict[str, str]], columns: tuple[str, ...]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _sorted(datasets: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    return sorted(datasets.values(), key=lambda d: (not d["no"], int(d["no"] or 0), d["name"]))


def _check_unique(nos: list[str], table: str) -> None:
    dup = sorted({n for n in nos if nos.count(n) > 1})
    if dup:
        raise MedmatError(f"upstream {table}.csv repeats number(s) {dup}; renumber or drop rows")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m medmat.catalog.build",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("upstream", help="folder with the upstream datasets.csv and subsets.csv")
    parser.add_argument(
        "--out",
        default=str(Path(__file__).parent),
        help="where to write the catalog CSVs (default: this package)",
    )
    args = parser.parse_args(argv)
    try:
        tables = build(args.upstream, args.out)
    except MedmatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{name}: {len(rows)} rows" for name, rows in tables.items())
    print(f"wrote {args.out}: {counts}")
    return 0


if __name__ == "__main__":
    from medmat.failures import run_guarded

    raise SystemExit(run_guarded(main))  # one-line errors like every medmat command
