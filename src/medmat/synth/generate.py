"""Generate a lab on disk: PNG images, ``records.parquet``, ``lab.json`` and a contact sheet.

Work is split into chunks of (cell, split, index range) rendered in worker processes; each image
is written atomically and an existing file with the same bytes is left untouched (incremental:
rerunning with a bigger ``n`` adds images; a stale file from an older renderer is replaced, so the
records' ``pixel_sha1`` always describes the file on disk). The records table is written last,
atomically, so a killed run leaves no table.
"""

from __future__ import annotations

import io
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from medmat.errors import MedmatError
from medmat.imaging import phash, pixel_sha1
from medmat.io import read_json, write_bytes, write_json
from medmat.manifest import (
    MANIFEST_NAME,
    Manifest,
    output_digests,
    source_digest,
    write_manifest,
)
from medmat.procs import terminate_pool, worker_init
from medmat.progress import progress_bar
from medmat.records import ImageRecord, write_records
from medmat.synth.lab import LabConfig, record_source, render_item, render_item_regions
from medmat.synth.spec import AREAS, GENERAL_AREAS, GENERAL_MODALITIES, MODALITIES, Cell

CHUNK = 256
SPLIT_ORDER = ("train", "val", "test")


def image_relpath(cell: Cell, split: str, index: int) -> str:
    return f"images/{cell.subset}/{split}/{index:06d}.png"


def _encode_png(arr: np.ndarray) -> tuple[bytes, Image.Image]:
    img = Image.fromarray(arr, "L" if arr.ndim == 2 else "RGB")
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)  # fast; deterministic for the same pixels
    return buf.getvalue(), img


def _render_chunk(args: tuple) -> list[ImageRecord]:
    root, cell, split, start, stop, cfg = args
    out = []
    (Path(root) / image_relpath(cell, split, start)).parent.mkdir(parents=True, exist_ok=True)
    for index in range(start, stop):
        arr, label, regions = render_item_regions(cell, split, index, cfg)
        rel = image_relpath(cell, split, index)
        data, img = _encode_png(arr)
        dest = Path(root) / rel
        if not _holds(dest, data):
            _write_image(dest, data)
        out.append(
            ImageRecord(
                record_id=f"{cell.subset}/{split}/{index:06d}",
                image=rel,
                labels=(label,),
                modality=cell.modality,
                area=cell.area,
                task=cell.task,
                subset=cell.subset,
                split=split,
                source=record_source(cell, cfg),
                multi_label=False,
                pixel_sha1=pixel_sha1(img.convert("RGB")),  # RGB: the convention of every stage
                phash=phash(img),
                regions=regions,
            )
        )
    return out


def _write_image(dest: Path, data: bytes) -> None:
    """Atomic like medmat.io.write_bytes, minus its per-file mkstemp/chmod: at thousands of
    small PNGs those syscalls cost more than rendering. The temp name is unique per process,
    and every chunk writes its own files, so no two writers share a temp file."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _holds(path: Path, data: bytes) -> bool:
    """True when ``path`` already has exactly ``data`` (PNG encoding is deterministic)."""
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except FileNotFoundError:
        return False


def default_workers() -> int:
    """CPUs this process may run on (not the machine's total), at most 8."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


def generate_lab(
    out: str | Path,
    cells: list[Cell],
    *,
    n_train: int = 1000,
    n_val: int = 0,
    n_test: int = 200,
    cfg: LabConfig = LabConfig(),
    workers: int | None = None,
    contact_sheet: bool = True,
) -> Path:
    """Render ``cells`` into ``out`` and return the records table path."""
    if not cells:
        raise MedmatError(
            "the lattice is empty: give at least one cell (e.g. --cells xray-lung-lesion)"
        )
    if min(n_train, n_val, n_test) < 0 or n_train + n_val + n_test == 0:
        raise MedmatError("image counts must be >= 0 and not all zero (--n-train/--n-val/--n-test)")
    if cfg.size < 16 or cfg.size > 512:
        raise MedmatError(f"--size {cfg.size}: choose an image size between 16 and 512 pixels")
    if workers is not None and workers < 1:
        raise MedmatError(f"--workers {workers}: use at least 1 worker process")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise MedmatError(f"--out {out}: exists and is not a folder; choose a folder path")
    manifest = out / "lab.json"
    if manifest.exists():
        old = read_json(manifest)
        if not isinstance(old, dict) or old.get("config") != asdict(cfg):
            raise MedmatError(
                f"{out} holds a lab made with "
                f"{old.get('config') if isinstance(old, dict) else old}, not {asdict(cfg)}; "
                "choose another --out folder or delete it"
            )
    cells = sorted(set(cells))
    jobs = []
    for cell in cells:
        for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
            for start in range(0, n, CHUNK):
                jobs.append((str(out), cell, split, start, min(n, start + CHUNK), cfg))
    total = len(cells) * (n_train + n_val + n_test)
    workers = min(workers or default_workers(), len(jobs))  # no idle processes for tiny labs
    records: list[ImageRecord] = []
    if workers == 1:
        with progress_bar("synth: rendering images", total) as advance:
            for job in jobs:
                records.extend(_render_chunk(job))
                advance(job[4] - job[3])
    else:
        # Workers ignore Ctrl-C and die with this process, even after kill -9 (medmat.procs).
        with ProcessPoolExecutor(max_workers=workers, initializer=worker_init,
                                 initargs=(os.getpid(),)) as pool:
            try:
                # Submitting first forks every worker before the progress bar starts its refresh
                # thread (forking a process that has running threads can deadlock the children).
                futures = [pool.submit(_render_chunk, job) for job in jobs]
                with progress_bar("synth: rendering images", total) as advance:
                    for job, future in zip(jobs, futures, strict=True):  # in order: deterministic
                        records.extend(future.result())
                        advance(job[4] - job[3])
            except BaseException:
                terminate_pool(pool)  # do not wait for the rest of a failed run
                raise
    (out / MANIFEST_NAME).unlink(missing_ok=True)  # the folder is being rewritten
    path = write_records(out, records)
    write_json(manifest, {
        "config": asdict(cfg),
        "cells": sorted(c.subset for c in cells),  # sorted ids: easy to compare
        "counts": {"train": n_train, "val": n_val, "test": n_test},
        "n_images": len(records),
    })
    if contact_sheet:
        # show items that are in the lab: the first split that has any
        counts = {"train": n_train, "val": n_val, "test": n_test}
        split = next(s for s in SPLIT_ORDER if counts[s] > 0)
        write_contact_sheet(out / "contact_sheet.png", cells, cfg,
                            per_cell=min(4, counts[split]), split=split)
    # Written last: a lab folder without a valid manifest is an interrupted generation.
    write_manifest(out, lab_manifest(cells, cfg, n_train, n_val, n_test).with_outputs(
        output_digests(out, ["records.parquet"])))
    return path


def lab_manifest(cells: list[Cell], cfg: LabConfig, n_train: int, n_val: int,
                 n_test: int) -> Manifest:
    """What a lab generated with these settings is (see :mod:`medmat.manifest`)."""
    config = {
        **asdict(cfg),
        "cells": sorted({c.subset for c in cells}),
        "counts": {"train": n_train, "val": n_val, "test": n_test},
        # the renderer's code: a change to how images are drawn regenerates the lab
        "code": source_digest("synth/*.py"),
    }
    return Manifest("lab", config)


def write_contact_sheet(dest: Path, cells: list[Cell], cfg: LabConfig, per_cell: int = 4,
                        split: str = "train") -> Path:
    """One row per modality, one block per area: ``per_cell`` examples of a present cell."""
    by_ma: dict[tuple[str, str], Cell] = {}
    for cell in sorted(cells):
        by_ma.setdefault((cell.modality, cell.area), cell)
    mods = [m for m in (*MODALITIES, *GENERAL_MODALITIES) if any(k[0] == m for k in by_ma)]
    areas = [a for a in (*AREAS, *GENERAL_AREAS) if any(k[1] == a for k in by_ma)]
    s, pad, head, side = cfg.size, 4, 18, 120
    width = side + len(areas) * (per_cell * s + pad)
    height = head + len(mods) * (s + 14 + pad)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    for j, area in enumerate(areas):
        draw.text((side + j * (per_cell * s + pad), 3), area, fill="black")
    for i, mod in enumerate(mods):
        y = head + i * (s + 14 + pad)
        draw.text((3, y + s // 2 - 5), mod, fill="black")
        for j, area in enumerate(areas):
            cell = by_ma.get((mod, area))
            if cell is None:
                continue
            x = side + j * (per_cell * s + pad)
            for k in range(per_cell):
                arr, label = render_item(cell, split, k, cfg)
                sheet.paste(Image.fromarray(arr).convert("RGB"), (x + k * s, y))
            draw.text((x, y + s), cell.task, fill="grey")
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    return write_bytes(dest, buf.getvalue())
