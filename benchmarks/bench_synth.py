"""Benchmark the synthetic MAT lab: images per second per core at 64x64, against a baseline.

    .venv/bin/python benchmarks/bench_synth.py [--n 3000] [--size 64] [--repeat 3]

Rows (the lab rows cycle over every cell of the full lattice, so every modality and area is
in the mix):

* baseline PIL ImageDraw renderer: what a plain Pillow generator of similar scenes costs --
  the same number of shapes per image (body, 2 organs, 5 ribs/structures, 1 finding) drawn with
  ImageDraw, one PIL GaussianBlur and numpy Gaussian noise, one fixed contrast for every image.
  It has no tissue classes, no per-modality contrast, speckle, shadowing or colour, so it is a
  floor for "draw some shapes", not an equivalent of the lab;
* (a) lab render only: ``render_item`` (anatomy -> finding -> modality), in memory;
* (b) lab render + PNG encode + pixel_sha1 + phash: what ``generate_lab`` does per image except
  the file write (the baseline gets the same treatment in its "+ encode/hash" row);
* (c) ``generate_lab`` end to end into a fresh folder (atomic PNG writes, records.parquet,
  lab.json; no contact sheet) with --workers 1 and 2.

Timings: wall seconds and CPU seconds (this process plus its worker processes). "img/s per core"
is images per CPU-second, which stays meaningful on a shared machine where other processes
take cores away (wall rates then drop, CPU rates much less). Target: >= 1,000 images/s per core.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from medmat.imaging import phash, pixel_sha1
from medmat.synth import LabConfig, full_lattice, generate_lab, render_item

TARGET = 1000.0


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (worker processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn, repeat: int) -> list[tuple[float, float]]:
    runs = []
    for _ in range(repeat):
        w, c = time.perf_counter(), cpu_seconds()
        fn()
        runs.append((time.perf_counter() - w, cpu_seconds() - c))
    return runs


def baseline_render(index: int, size: int) -> np.ndarray:
    """A Pillow ImageDraw scene of similar complexity (see the module docstring)."""
    rng = np.random.default_rng(index)
    img = Image.new("L", (size, size), 5)
    draw = ImageDraw.Draw(img)
    s = size

    def ell(cx: float, cy: float, rx: float, ry: float, value: int) -> None:
        draw.ellipse([(cx - rx) * s, (cy - ry) * s, (cx + rx) * s, (cy + ry) * s], fill=value)

    ell(0.5, 0.52, 0.46, 0.4, 100)  # body
    for y in np.linspace(0.22, 0.78, 5):  # ribs
        draw.rectangle([0.1 * s, y * s, 0.9 * s, y * s + 0.03 * s], fill=240)
    for side in (-1, 1):  # organs
        ell(0.5 + side * 0.2, 0.5 + rng.uniform(-0.03, 0.03), 0.15, 0.3, 30)
    cx, cy = rng.uniform(0.25, 0.75, size=2)
    ell(cx, cy, 0.08, 0.08, 210)  # finding
    img = img.filter(ImageFilter.GaussianBlur(1.1))
    arr = np.asarray(img, dtype=np.float32) / 255.0
    arr = arr + rng.normal(0, 0.035, arr.shape).astype(np.float32)
    return (np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)


def encode_and_hash(arr: np.ndarray) -> None:
    img = Image.fromarray(arr, "L" if arr.ndim == 2 else "RGB")
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)  # as medmat.synth.generate does
    pixel_sha1(img)
    phash(img)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=3000, help="images per measurement")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3, help="runs per row (best is reported)")
    args = ap.parse_args(argv)
    os.environ["MEDMAT_PROGRESS"] = "0"
    cfg = LabConfig(size=args.size)
    cells = full_lattice()
    items = [(cells[i % len(cells)], i // len(cells)) for i in range(args.n)]
    per_cell = -(-args.n // len(cells))  # generate_lab makes per_cell images in every cell
    render_item(cells[0], "train", 0, cfg)  # imports and caches outside the timings
    baseline_render(0, args.size)

    rows: list[tuple[str, int, list[tuple[float, float]]]] = []
    rows.append(("baseline PIL ImageDraw render", args.n, timed(
        lambda: [baseline_render(i, args.size) for i in range(args.n)], args.repeat)))
    rows.append(("baseline + encode/hash", args.n, timed(
        lambda: [encode_and_hash(baseline_render(i, args.size)) for i in range(args.n)],
        args.repeat)))
    rows.append(("(a) lab render only", args.n, timed(
        lambda: [render_item(c, "train", i, cfg) for c, i in items], args.repeat)))
    rows.append(("(b) lab render + encode/hash", args.n, timed(
        lambda: [encode_and_hash(render_item(c, "train", i, cfg)[0]) for c, i in items],
        args.repeat)))
    with tempfile.TemporaryDirectory(prefix="bench_synth_") as tmp:
        for workers in (1, 2):
            def run(workers: int = workers, counter=iter(range(10**6))) -> None:
                out = Path(tmp) / f"w{workers}-{next(counter)}"  # fresh folder: real writes
                generate_lab(out, cells, n_train=per_cell, n_test=0, cfg=cfg,
                             workers=workers, contact_sheet=False)

            rows.append((f"(c) generate_lab workers={workers}", per_cell * len(cells),
                         timed(run, args.repeat)))

    print(f"synthetic lab benchmark: {args.size}x{args.size} px, {len(cells)} cells, best of "
          f"{args.repeat} runs; machine: {os.cpu_count()} cores, shared with other processes")
    print("img/s per core = images / CPU-seconds (own + worker processes); "
          f"target >= {TARGET:,.0f}")
    head = (f"{'path':<34}{'images':>7}{'best wall s':>12}{'img/s wall':>11}"
            f"{'CPU ms/img':>11}{'img/s per core':>15}{'vs baseline':>12}")
    print(head)
    print("-" * len(head))
    base_rate = {}
    for name, n, runs in rows:
        wall = min(w for w, _ in runs)
        cpu = min(c for _, c in runs)
        per_core = n / cpu if cpu > 0 else float("inf")
        if name.startswith("baseline"):
            base_rate[name] = per_core
        ref = base_rate["baseline + encode/hash" if ("encode" in name or name.startswith("(c)"))
                        else "baseline PIL ImageDraw render"]
        print(f"{name:<34}{n:>7,}{wall:>12.3f}{n / wall:>11,.0f}{cpu / n * 1e3:>11.3f}"
              f"{per_core:>15,.0f}{per_core / ref:>11.2f}x")
    verdicts = []
    for name, n, runs in rows:
        if not name.startswith("baseline"):
            per_core = n / min(c for _, c in runs)
            verdicts.append(f"{name.split(')')[0]})={'met' if per_core >= TARGET else 'NOT met'}")
    print("target >= 1,000 img/s per core: " + ", ".join(verdicts))
    print("rows (a)/(b) compare with the baseline row of the same kind, (c) with "
          "'baseline + encode/hash' (which writes no files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
