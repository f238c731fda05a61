"""``medmat catalog``: browse the Med-MAT catalog, export it, draw the MAT lattice."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import click

from medmat.errors import MedmatError

KINDS = ("datasets", "subsets")


@click.command(name="catalog")
@click.option("--modality", "-m", help='Keep this modality (any spelling: "X-Ray", "US", "fp").')
@click.option("--area", "-a", help='Keep this anatomical area (e.g. "Lung", "teeth").')
@click.option("--task", "-t", help='Keep this task family (e.g. "COVID-19", "grade").')
@click.option(
    "--kind", type=click.Choice(KINDS), default="subsets", show_default=True,
    help="List the aggregated subsets or the source datasets.",
)  # fmt: skip
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the listed entries as CSV.")  # fmt: skip
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the listed entries (and their recorded fixes) as JSON.")  # fmt: skip
@click.option("--lattice", "lattice_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Draw the modality x area lattice as a PNG heatmap.")  # fmt: skip
@click.option(
    "--count", type=click.Choice(KINDS), default=None,
    help="What a lattice cell counts (default: the same as --kind).",
)  # fmt: skip
@click.option("--fixes", "show_fixes", is_flag=True,
              help="Also print the recorded fixes/flags of the listed entries.")  # fmt: skip
@click.option("--quiet", "-q", is_flag=True, help="Do not print the table.")
def command(
    modality: str | None,
    area: str | None,
    task: str | None,
    kind: str,
    csv_path: Path | None,
    json_path: Path | None,
    lattice_path: Path | None,
    count: str | None,
    show_fixes: bool,
    quiet: bool,
) -> None:
    """Browse the Med-MAT catalog of source datasets and aggregated MAT subsets.

    Filters accept any spelling the taxonomy knows, so --modality "X-Ray", "xray" and
    "radiograph" are the same. Examples:

    \b
      medmat catalog --modality X-Ray --area lung
      medmat catalog --kind datasets --task covid --csv covid.csv
      medmat catalog --lattice lattice.png --count datasets
    """
    from medmat.catalog import filter_entries, lattice_counts, load_catalog
    from medmat.catalog.query import entry_dict
    from medmat.taxonomy import load_taxonomy

    _check_outputs(csv_path, json_path, lattice_path)
    if count is not None and lattice_path is None:
        raise MedmatError("--count only applies to the lattice; add --lattice PATH.png")
    tax = load_taxonomy()
    cat = load_catalog()
    filters = {"modality": modality, "area": area, "task": task}
    entries = filter_entries(cat, kind, taxonomy=tax, **filters)
    # Show the canonical names (the user may have typed "xray" or "fp").
    shown = {k: tax.normalize(k, v) for k, v in filters.items() if v is not None}
    table = kind
    fixes = [
        f for e in entries for f in cat.fixes_for(table, e.no if e.no is not None else "")
    ]  # fmt: skip

    # Render everything in memory first so a failure leaves no partial output behind.
    png = None
    if lattice_path is not None:
        from medmat.catalog.lattice import render_lattice_png

        count_kind = count or kind
        counted = filter_entries(cat, count_kind, taxonomy=tax, **filters)
        mods, areas, matrix = lattice_counts(counted, tax)
        png = render_lattice_png(mods, areas, matrix, _title(count_kind, shown))

    from medmat.io import write_bytes, write_json, write_text

    rows = [entry_dict(e) for e in entries]
    if csv_path is not None:
        write_text(csv_path, _to_csv(rows, kind))
    if json_path is not None:
        write_json(json_path, {
            "kind": kind,
            "filters": shown,
            "count": len(rows),
            "entries": rows,
            "fixes": [f.__dict__ for f in fixes],
        })  # fmt: skip
    if png is not None and lattice_path is not None:
        write_bytes(lattice_path, png)
    if not quiet:
        _print_table(entries, kind, shown)
        if show_fixes:
            _print_fixes(fixes)
    for label, path in (("csv", csv_path), ("json", json_path), ("lattice", lattice_path)):
        if path is not None:
            click.echo(f"wrote {label}: {path}", err=True)


def _check_outputs(csv_path: Path | None, json_path: Path | None, lattice: Path | None) -> None:
    paths = [p for p in (csv_path, json_path, lattice) if p is not None]
    resolved = [p.resolve() for p in paths]
    if len(set(resolved)) != len(resolved):
        raise MedmatError("--csv, --json and --lattice must name different files")
    if lattice is not None and lattice.suffix.lower() != ".png":
        raise MedmatError(f"--lattice {lattice}: the lattice is a PNG; use a path ending in .png")
    from medmat.outdir import check_out_file

    for p, flag in ((csv_path, "--csv"), (json_path, "--json"), (lattice, "--lattice")):
        if p is not None:
            check_out_file(p, flag=flag)


def _title(count_kind: str, shown: dict[str, str]) -> str:
    suffix = f" ({', '.join(f'{k}={v}' for k, v in shown.items())})" if shown else ""
    return f"Med-MAT lattice: number of {count_kind} per modality x area{suffix}"


def _to_csv(rows: list[dict], kind: str) -> str:
    from medmat.catalog.model import DATASET_COLUMNS, SUBSET_COLUMNS

    columns = list(DATASET_COLUMNS if kind == "datasets" else SUBSET_COLUMNS)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in columns})
    return buf.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def _print_table(entries: list, kind: str, filters: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    label = ", ".join(f"{k}={v}" for k, v in filters.items())
    title = f"{len(entries)} {kind}" + (f" ({label})" if label else "")
    if not entries:
        console.print(f"{title}: nothing matches; loosen the filters")
        return
    table = Table(title=title, show_lines=False)
    if kind == "datasets":
        cols = ("no", "name", "modality", "area", "task", "subset", "released", "flags")
    else:
        cols = ("no", "modality", "area", "task", "task_raw", "released", "dataset_nos",
                "ambiguous")  # fmt: skip
    for col in cols:
        table.add_column(col.replace("_", " "), overflow="fold")
    for e in entries:
        table.add_row(*(_cell(getattr(e, c)) for c in cols))
    console.print(table)


def _print_fixes(fixes: list) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(fixes)} recorded fixes/flags")
    for col in ("id", "table", "row", "field", "kind", "old", "new", "reason"):
        table.add_column(col, overflow="fold")
    for f in fixes:
        table.add_row(str(f.id), f.table, f.row, f.field, f.kind, f.old, f.new, f.reason)
    Console().print(table)
