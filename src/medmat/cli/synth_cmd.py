"""``medmat synth --out DIR``: generate the synthetic MAT lab (PNGs + records.parquet + sheet).

The cell selection (``--cells`` / ``--lattice`` / ``--all`` / filters) is resolved and every
argument is checked *before* anything is written, so a bad argument leaves no folder behind.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Iterator
from pathlib import Path

import click

from medmat.errors import MedmatError, UnknownTermError
from medmat.synth.spec import AREAS, MODALITIES, TASKS, Cell, full_lattice, parse_cell

_TABLES = {"modality": MODALITIES, "area": AREAS, "task": TASKS}
_FLAGS = {"modality": "--modalities", "area": "--areas", "task": "--tasks"}
MAX_ROWS = 40  # a bigger lattice is summarised per modality instead of per cell


def lab_name(kind: str, text: str, where: str) -> str:
    """Canonical lab name of ``text`` (taxonomy synonyms and codes allowed), or a clear error.

    ``where`` names the argument for the message. The taxonomy knows many more terms than the
    lab can draw, so both "unknown term" and "known but not drawable" say what the lab draws.
    """
    table = _TABLES[kind]
    drawable = ", ".join(f"{name} ({_code(kind, name)})" for name in table)
    from medmat.taxonomy import normalize

    try:
        name = normalize(kind, text)
    except UnknownTermError as exc:
        lines = str(exc).splitlines()  # keep "unknown ..." and "Closest known terms: ..."
        hint = " ".join(lines[:1] + [ln for ln in lines[1:2] if ln.startswith("Closest")])
        raise MedmatError(f"{where}: {hint} The synthetic lab draws {kind}: {drawable}") from None
    if name not in table:
        raise MedmatError(
            f"{where}: the synthetic lab cannot draw {kind} {name!r}; it draws: {drawable}"
        )
    return name


def _code(kind: str, name: str) -> str:
    value = _TABLES[kind][name]
    return value[0] if kind == "task" else value


def parse_cell_arg(text: str, where: str) -> Cell:
    """A cell as 'xray-lung-lesion' (codes) or 'X-ray/Lung/Lesion type' (names, synonyms)."""
    text = text.strip()
    if not text:
        raise MedmatError(
            f"{where}: empty cell; write e.g. xray-lung-lesion or X-ray/Lung/Lesion type"
        )
    if "/" in text:
        # at most two splits: the task "Detection/segmentation" has a slash of its own
        parts = [p.strip() for p in text.split("/", 2)]
        if len(parts) != 3:
            raise MedmatError(
                f"{where} {text!r}: write a cell as 'Modality/Area/Task' or 'mod-area-task'"
            )
        names = [lab_name(k, p, f"{where} {text!r}") for k, p in zip(_TABLES, parts, strict=True)]
        return parse_cell("/".join(names))
    try:
        return parse_cell(text.lower())  # codes are lower case
    except MedmatError as exc:
        raise MedmatError(f"{where}: {exc}") from None


def load_lattice(path: Path) -> list[Cell]:
    """Cells from a YAML file: a list (or ``{cells: [...]}``) of cell strings or mappings."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MedmatError(f"--lattice {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MedmatError(f"--lattice {path}: cannot read the file ({exc})") from None
    except yaml.YAMLError as exc:
        raise MedmatError(f"--lattice {path}: not valid YAML ({exc})") from None
    if isinstance(data, dict) and set(data) == {"cells"}:
        data = data["cells"]
    if not isinstance(data, list) or not data:
        raise MedmatError(
            f"--lattice {path}: expected a non-empty YAML list of cells, e.g.\n"
            "  - xray-lung-lesion\n  - CT/Brain/Location\n"
            "  - {modality: MRI, area: Kidney, task: Severity grade}"
        )
    cells = []
    for i, entry in enumerate(data, start=1):
        where = f"--lattice {path} entry {i}"
        if isinstance(entry, str):
            cells.append(parse_cell_arg(entry, where))
        elif isinstance(entry, dict) and set(entry) == {"modality", "area", "task"}:
            names = [lab_name(k, str(entry[k]), where) for k in _TABLES]
            cells.append(Cell(*names))
        else:
            raise MedmatError(
                f"{where}: {entry!r} is not a cell; use 'xray-lung-lesion', "
                "'X-ray/Lung/Lesion type' or {modality: ..., area: ..., task: ...}"
            )
    return cells


def _split_list(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def resolve_cells(cells: tuple[str, ...] = (), lattice: Path | None = None, all_cells: bool = False,
                  modalities: tuple[str, ...] = (), areas: tuple[str, ...] = (),
                  tasks: tuple[str, ...] = ()) -> list[Cell]:
    """The cells to generate: one source (or the full lattice), restricted by the filters."""
    given = {"--cells": bool(cells), "--lattice": lattice is not None, "--all": all_cells}
    sources = [name for name, present in given.items() if present]
    if len(sources) > 1:
        raise MedmatError(f"{' and '.join(sources)}: give only one of --cells, --lattice, --all")
    filters = {
        kind: [lab_name(kind, v, f"{_FLAGS[kind]} {v!r}") for v in _split_list(values)]
        for kind, values in (("modality", modalities), ("area", areas), ("task", tasks))
    }
    if not sources and not any(filters.values()):
        raise MedmatError(
            "choose what to generate: --cells xray-lung-lesion,..., --lattice FILE, --all, or "
            "filters --modalities/--areas/--tasks (their product); see `medmat synth --help`"
        )
    if cells:
        chosen = [parse_cell_arg(c, "--cells") for c in _split_list(cells)]
        if not chosen:
            raise MedmatError("--cells: no cell given; write e.g. --cells xray-lung-lesion")
    elif lattice is not None:
        chosen = load_lattice(lattice)
    else:
        chosen = full_lattice()
    keep = [
        c for c in chosen
        if all(not filters[k] or getattr(c, k) in filters[k] for k in ("modality", "area", "task"))
    ]
    if not keep:
        raise MedmatError(
            f"no cell of {sources[0]} matches the --modalities/--areas/--tasks filters "
            f"({', '.join(c.subset for c in chosen[:5])}{' ...' if len(chosen) > 5 else ''})"
        )
    return sorted(set(keep))


_HELP = """Generate the synthetic MAT lab: PNG images, records.parquet, lab.json, contact sheet.

Every image is render_M(anatomy_A carrying finding_T): an anatomical area (lung, brain, knee
bones, breast, kidneys) is painted as a map of tissues, the item's label is painted into it as
a finding (nodule, cyst, patches, ...), and the modality turns tissues into pixels with its own
contrast, blur and noise (X-ray, CT, MRI, ultrasound, fundus photo, microscopy). Modality, area
and task are independent factors, so a model can be asked about a combination it never saw.

Cells (MAT combinations, subset ids like xray-lung-lesion) come from ONE of --cells, --lattice
or --all; --modalities/--areas/--tasks restrict them, or alone give their product.

--null makes the negative control: each (modality, area) pair draws its own appearance for
every label, independently, so there is nothing shared to recombine.

Deterministic: item i of a cell and split depends only on (seed, null, subset, split, i), so
the same arguments give byte-identical files with any --workers, and rerunning into the same
folder with bigger counts keeps the existing images and adds new ones. Splits are per image,
fixed before any question exists; labels cycle so every split is label-balanced.

\b
Examples:
  medmat synth --out runs/lab --cells xray-lung-lesion,ct-brain-lesion --n-train 500
  medmat synth --out runs/lab --modalities xray,ct,mri --areas lung,brain --tasks lesion
  medmat synth --out runs/lab --cells "X-ray/Lung/Lesion type" --n-val 100 --size 128
  medmat synth --out runs/null --all --null --n-train 200 --n-test 50
  medmat synth --out runs/lab --lattice lattice.yaml --workers 4

Then: `medmat build runs/lab --out runs/lab/qa`. See docs/synth.md.
"""


@click.command(name="synth", help=_HELP)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Output folder: images/, records.parquet, lab.json, contact_sheet.png.")
@click.option("--cells", multiple=True, metavar="LIST",
              help="Comma-separated cells: subset ids (xray-lung-lesion) or "
                   "'Modality/Area/Task' names (taxonomy synonyms allowed). Repeatable.")
@click.option("--lattice", type=click.Path(path_type=Path), metavar="FILE",
              help="YAML list of cells (same spellings, or {modality, area, task} mappings).")
@click.option("--all", "all_cells", is_flag=True,
              help="Every cell the lab can draw (6 modalities x 5 areas x 5 tasks = 150).")
@click.option("--modalities", multiple=True, metavar="LIST",
              help="Comma-separated modality names or codes (xray, ct, mri, us, fp, mic).")
@click.option("--areas", multiple=True, metavar="LIST",
              help="Comma-separated areas (lung, brain, bones, breast, kidney).")
@click.option("--tasks", multiple=True, metavar="LIST",
              help="Comma-separated tasks (lesion, severity, abnormal, location, detseg).")
@click.option("--n-train", default=1000, show_default=True, type=int, help="Train images per cell.")
@click.option("--n-val", default=0, show_default=True, type=int, help="Val images per cell.")
@click.option("--n-test", default=200, show_default=True, type=int, help="Test images per cell.")
@click.option("--seed", default=0, show_default=True, type=int, help="Lab seed (>= 0).")
@click.option("--null", "null", is_flag=True,
              help="Negative control: label appearances drawn independently per (modality, area).")
@click.option("--size", default=64, show_default=True, type=int,
              help="Image side in pixels (16-512).")
@click.option("--workers", type=int, default=None,
              help="Worker processes (default: usable CPUs, at most 8). Output is identical.")
@click.option("--no-contact-sheet", is_flag=True, help="Skip contact_sheet.png.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary table.")
def command(out_dir: Path, cells: tuple[str, ...], lattice: Path | None, all_cells: bool,
            modalities: tuple[str, ...], areas: tuple[str, ...], tasks: tuple[str, ...],
            n_train: int, n_val: int, n_test: int, seed: int, null: bool, size: int,
            workers: int | None, no_contact_sheet: bool, quiet: bool) -> None:
    from medmat.synth import LabConfig, generate_lab

    for flag, n in (("--n-train", n_train), ("--n-val", n_val), ("--n-test", n_test)):
        if n < 0:
            raise MedmatError(f"{flag} {n}: image counts must be >= 0")
    if n_train + n_val + n_test == 0:
        raise MedmatError("--n-train, --n-val and --n-test are all 0: ask for at least one image")
    if seed < 0:
        raise MedmatError(f"--seed {seed}: use a seed >= 0")
    if not 16 <= size <= 512:
        raise MedmatError(f"--size {size}: choose an image size between 16 and 512 pixels")
    if workers is not None and workers < 1:
        raise MedmatError(f"--workers {workers}: use at least 1 worker process")
    chosen = resolve_cells(cells, lattice, all_cells, modalities, areas, tasks)
    cfg = LabConfig(seed=seed, null=null, size=size)
    from medmat.outdir import check_out_dir, claim_dir

    # A lab grows in place (same config, bigger counts): an existing lab is continued, any
    # other non-empty folder refused; claiming the folder first lets a killed run be resumed.
    check_out_dir(out_dir, "lab", [lattice] if lattice else [], resume_ok=True)
    claim_dir(out_dir, "lab")

    start = time.perf_counter()
    with _progress_off(quiet):
        records = generate_lab(out_dir, chosen, n_train=n_train, n_val=n_val, n_test=n_test,
                               cfg=cfg, workers=workers, contact_sheet=not no_contact_sheet)
    if not quiet:
        counts = {"train": n_train, "val": n_val, "test": n_test}
        sheet = None if no_contact_sheet else out_dir / "contact_sheet.png"
        _print_summary(chosen, counts, cfg, records, sheet, time.perf_counter() - start)


@contextlib.contextmanager
def _progress_off(off: bool) -> Iterator[None]:
    """Silence medmat.progress for this call only (it reads MEDMAT_PROGRESS)."""
    if not off:
        yield
        return
    old = os.environ.get("MEDMAT_PROGRESS")
    os.environ["MEDMAT_PROGRESS"] = "0"
    try:
        yield
    finally:
        if old is None:
            del os.environ["MEDMAT_PROGRESS"]
        else:
            os.environ["MEDMAT_PROGRESS"] = old


def _print_summary(cells: list[Cell], counts: dict[str, int], cfg, records: Path,
                   sheet: Path | None, seconds: float) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    n_images = len(cells) * sum(counts.values())
    kind = "null (negative control)" if cfg.null else "default"
    table = Table(title=f"synthetic lab ({kind}, seed {cfg.seed}, {cfg.size}x{cfg.size} px): "
                        f"{len(cells)} cells, {n_images} images")
    if len(cells) <= MAX_ROWS:
        for col in ("subset", "task", "labels"):
            table.add_column(col, no_wrap=True)
        rows = [(c.subset, c.task, str(len(c.labels)), 1) for c in cells]
    else:  # one row per modality keeps --all readable
        for col in ("modality", "areas", "tasks", "cells"):
            table.add_column(col, no_wrap=True)
        rows = []
        for mod, group in itertools.groupby(sorted(cells, key=lambda c: c.modality),
                                            key=lambda c: c.modality):
            group = list(group)
            rows.append((mod, str(len({c.area for c in group})),
                         str(len({c.task for c in group})), str(len(group)), len(group)))
    for split in ("train", "val", "test"):
        table.add_column(split, justify="right")
    for *row, n_cells in rows:
        table.add_row(*row, *(str(n_cells * counts[s]) for s in ("train", "val", "test")))
    console.print(table)
    rate = n_images / seconds if seconds > 0 else float("inf")
    lines = [f"records: {records}"]
    if sheet is not None:
        lines.append(f"contact sheet: {sheet}")
    lines.append(f"done in {seconds:.1f} s ({rate:,.0f} images/s)")
    for line in lines:  # paths printed whole: no wrapping, no markup, no highlighting
        console.print(line, soft_wrap=True, markup=False, highlight=False)
