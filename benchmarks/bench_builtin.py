"""Built-in backend throughput on this CPU: training and scoring images per second.

Compares, in the same run, the backend as shipped (glibc malloc tuned, see
medmat.train.builtin._tune_malloc) with a baseline that trains the same model through a naive
loop (malloc untuned, a child process so the tuning cannot leak in). Usage:

    python benchmarks/bench_builtin.py [--items 1500] [--epochs 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("MEDMAT_PROGRESS", "0")

CHILD = r"""
import json, sys, time, torch
from pathlib import Path
from medmat.qa import iter_items
from medmat.records import read_records_table
import medmat.train.builtin as B
root = sys.argv[1]
n_items, epochs, threads = (int(a) for a in sys.argv[2:5])
tuned = sys.argv[5] == "1"
torch.set_num_threads(threads)
if not tuned:
    B._MALLOC_TUNED = True  # pretend it is done: the baseline keeps glibc defaults
items = [i for i in iter_items(read_records_table(root), seed=0) if i.split == "train"][:n_items]
test = items[: min(len(items), 1000)]
backend = B.BuiltinBackend(epochs=epochs)
backend.score(test[:8], Path(root))  # decode + cache images outside the timed region
B.image_batch(Path(root), [i.image for i in items], backend.cfg.image_size)
import tempfile
with tempfile.TemporaryDirectory() as work:
    t0 = time.perf_counter(); c0 = time.process_time()
    backend.fit(items, Path(root), Path(work), seed=0)
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
t0 = time.perf_counter()
preds = backend.score(test, Path(root))
score_s = time.perf_counter() - t0
print(json.dumps({"train_img_s": len(items) * epochs / train_s, "train_cpu_s": train_cpu,
                  "score_img_s": len(test) / score_s}))
"""


def run_child(root: Path, n: int, epochs: int, threads: int, tuned: bool) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(root),
            str(n),
            str(epochs),
            str(threads),
            str(int(tuned)),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--items", type=int, default=1500)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    from medmat.synth import Cell, LabConfig, generate_lab

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cells = [Cell("CT", "Lung", "Lesion type"), Cell("X-ray", "Brain", "Lesion type")]
        generate_lab(
            root,
            cells,
            n_train=args.items // 2 + 1,
            n_test=0,
            cfg=LabConfig(size=64),
            contact_sheet=False,
        )
        rows = [
            (
                "baseline: glibc malloc defaults",
                run_child(root, args.items, args.epochs, args.threads, tuned=False),
            ),
            (
                "medmat builtin (malloc tuned)",
                run_child(root, args.items, args.epochs, args.threads, tuned=True),
            ),
        ]
    print(
        f"built-in backend, 64 px lab images resized to 32 px, {args.items} items x "
        f"{args.epochs} epochs, {args.threads} threads, {os.cpu_count()} CPUs visible"
    )
    print(f"{'variant':34} {'train img/s':>12} {'score img/s':>12} {'train vs base':>14}")
    base = rows[0][1]["train_img_s"]
    for name, r in rows:
        print(
            f"{name:34} {r['train_img_s']:12,.0f} {r['score_img_s']:12,.0f} "
            f"{r['train_img_s'] / base:13.2f}x"
        )


if __name__ == "__main__":
    main()
