"""Benchmark the VQA builder against a naive per-record implementation, in the same run.

    .venv/bin/python benchmarks/bench_qa.py [--records 200000] [--naive 50000]

Synthetic records only (no images: the builder does no image I/O). Rows, single process:

* naive per-record: ``medmat.testing.reference_items`` -- the same algorithm with python ints,
  one dict and one ``json.dumps`` per item (run on the first --naive records, then checked
  byte for byte against the fast path on those records);
* medmat.qa items in memory: the vectorised batch path (ItemFactory.make: item table + JSONL
  bytes), no file writes;
* medmat.qa build() to disk: both passes, leakage guard, items.parquet + items.jsonl + summary;
* iter_items (QAItem objects): the in-memory generator the experiment runner uses.

Target: >= 100,000 items/s per core excluding image I/O.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from medmat.qa import build, iter_items
from medmat.qa.build import PASS1_COLUMNS, PASS2_COLUMNS
from medmat.qa.core import ItemFactory
from medmat.qa.labels import scan_label_spaces
from medmat.qa.templates import load_templates
from medmat.records import RECORDS_SCHEMA, write_records
from medmat.testing.reference_items import reference_lines

SUBSETS = [  # (subset, modality, area, task, n labels, multi-label)
    ("03", "CT", "Lung", "COVID-19", 3, False),
    ("07", "Dermoscopy", "Skin", "Lesion type", 8, False),
    ("14", "Fundus photography", "Fundus", "Disease classification", 10, False),
    ("16", "Fundus photography", "Fundus", "Severity grade", 5, False),
    ("22", "MRI", "Brain", "Lesion type", 4, False),
    ("26", "X-ray", "Bones", "Fracture", 2, False),
    ("31", "X-ray", "Chest", "Multi-label", 14, True),
    ("18", "Microscopy", "Cell", "Cell type", 8, False),
]


def synthetic_table(n: int, seed: int = 0) -> pa.Table:
    rng = random.Random(seed)
    cols: dict[str, list] = {name: [] for name in RECORDS_SCHEMA.names}
    for i in range(n):
        sub, mod, area, task, k, multi = SUBSETS[i % len(SUBSETS)]
        names = [f"{task} label {j}" for j in range(k)]
        labels = rng.sample(names, rng.randint(1, 3)) if multi else [rng.choice(names)]
        split = rng.choices(["train", "val", "test"], weights=[8, 1, 1])[0]
        row = {"record_id": f"{sub}-{i:08d}", "image": f"{sub}/{split}/img ({i}).png",
               "labels": labels, "modality": mod, "area": area, "task": task, "subset": sub,
               "split": split, "source": str(10 + i % len(SUBSETS)), "multi_label": multi,
               "pixel_sha1": f"{i:040x}", "phash": None}
        for name in RECORDS_SCHEMA.names:
            cols[name].append(row[name])
    return pa.table(cols, schema=RECORDS_SCHEMA)


def fast_in_memory(table: pa.Table, seed: int, batch: int = 65536, keep: bool = False):
    """The vectorised path without file writes; returns the JSONL bytes or their size."""
    spaces = scan_label_spaces(table.select(PASS1_COLUMNS).to_batches(batch))
    factory = ItemFactory(spaces, load_templates(), seed)
    chunks, size, first = [], 0, 0
    for b in table.select(PASS2_COLUMNS).to_batches(batch):
        out = factory.make(b, np.arange(first, first + b.num_rows, dtype=np.int64))
        first += b.num_rows
        size += out.jsonl.size
        if keep:
            chunks.append(out.jsonl.to_pybytes())
    return b"".join(chunks) if keep else size


def timed(fn, repeat: int):
    """[(wall s, cpu s)] per run, and the last result."""
    runs, result = [], None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        runs.append((time.perf_counter() - w0, time.process_time() - c0))
    return runs, result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--naive", type=int, default=50_000, help="records for the naive baseline")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    os.environ.setdefault("MEDMAT_PROGRESS", "0")
    seed = 0
    table = synthetic_table(args.records)
    n_naive = min(args.naive, args.records)
    head = table.slice(0, n_naive)
    templates = load_templates()
    rows = head.to_pylist()
    templates.render("03", "COVID-19", "CT", "Lung")  # load the taxonomy outside the timings

    results = []
    runs, naive = timed(lambda: "".join(
        line + "\n" for line in reference_lines(rows, seed=seed, templates=templates)), 1)
    results.append(("naive per-record (reference.py)", n_naive, runs))
    same = fast_in_memory(head, seed, keep=True) == naive.encode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        write_records(Path(tmp) / "records.parquet", table)
        runs, summary = timed(lambda: build(Path(tmp), Path(tmp) / "qa", seed=seed),
                              args.repeat)
        results.append(("medmat.qa build() to disk", args.records, runs))
        size = (Path(tmp) / "qa" / "items.jsonl").stat().st_size
    runs, _ = timed(lambda: fast_in_memory(table, seed), args.repeat)
    results.append(("medmat.qa items in memory", args.records, runs))
    runs, n_iter = timed(lambda: sum(1 for _ in iter_items(table, seed=seed)), 1)
    results.append(("iter_items -> QAItem objects", n_iter, runs))

    print(f"VQA builder: {args.records:,} synthetic records, {len(SUBSETS)} subsets, one "
          f"process, {os.cpu_count()} cores shared (items: {summary['n_items']:,}; "
          f"items.jsonl {size / 1e6:.1f} MB)")
    print("first = first run in this process (cold), best = best of the runs; items/s per "
          "CPU-second = per core")
    head_row = (f"{'path':<33}{'records':>9}{'runs':>5}{'first s':>9}{'best s':>8}"
                f"{'best items/s':>14}{'per CPU-s':>12}{'vs naive':>10}")
    print(head_row)
    print("-" * len(head_row))
    naive_rate = n_naive / min(c for _, c in results[0][2])
    worst_cpu_rate = float("inf")
    for name, n, runs in results:
        best_wall = min(w for w, _ in runs)
        best_cpu = min(c for _, c in runs)
        rate_cpu = n / best_cpu
        if name.startswith("medmat.qa build"):
            worst_cpu_rate = n / max(c for _, c in runs)
        print(f"{name:<33}{n:>9,}{len(runs):>5}{runs[0][0]:>9.3f}{best_wall:>8.3f}"
              f"{n / best_wall:>14,.0f}{rate_cpu:>12,.0f}{rate_cpu / naive_rate:>9.1f}x")
    print(f"fast path == naive reference on the first {n_naive:,} records (byte-identical "
          f"JSONL): {same}")
    print(f"target >= 100,000 items/s per core excluding image I/O, build() to disk, slowest "
          f"run: {worst_cpu_rate:,.0f} items/CPU-s -> "
          + ("met" if worst_cpu_rate >= 100_000 else "NOT met"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
