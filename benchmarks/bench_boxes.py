"""Grounding metrics benchmark: medmat.evaluate.boxes (numpy) vs a naive per-item Python loop.

Run:  .venv/bin/python benchmarks/bench_boxes.py [--n 100000] [--boot 1000] [--naive-boot 20]

On ``--n`` random (prediction, gold) box pairs (10% misses, some degenerate predictions):

1. Point metrics (per-item IoU, cIoU, mIoU, acc@0.5): the vectorised module (given Python
   lists, so converting them is timed too, and given numpy arrays) against a plain loop over
   items written here, all timed in this run; the numbers must agree to 1e-9.
0. Box-item building (``--items`` region records with small PNGs written here): the QA builder
   (``medmat.qa.iter_items``: image size from the PNG header, outer extent, canonical text,
   templates) against a naive per-record builder written here (decodes every image to learn its
   size, loops over regions in Python, ``json.dumps`` per item); the boxes must agree.
2. Bootstrap intervals: the module's ``--boot`` replicates against the naive loop's
   ``--naive-boot`` replicates (it is too slow for more), compared as item-replicates per second;
   both are also run with the same seed and ``--naive-boot`` replicates and must give the same
   intervals (the module draws the same indices from the same generator).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from PIL import Image

from medmat.evaluate.boxes import box_metrics
from medmat.qa import iter_items
from medmat.qa.boxes import format_box, from_pixels
from medmat.records import ImageRecord, records_to_table
from medmat.regions import Region

Box = tuple[float, float, float, float]


def random_pairs(n: int, seed: int) -> tuple[list[Box | None], list[Box]]:
    """Gold boxes in 0-1; predictions jittered from them, 10% misses, 1% zero-width."""
    rng = np.random.default_rng(seed)
    xs, ys = np.sort(rng.random((n, 2)), axis=1), np.sort(rng.random((n, 2)), axis=1)
    gold = np.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], axis=1)
    pred = np.clip(gold + rng.normal(0, 0.08, gold.shape), 0, 1)
    pred[:, [0, 2]] = np.sort(pred[:, [0, 2]], axis=1)
    pred[:, [1, 3]] = np.sort(pred[:, [1, 3]], axis=1)
    flat = rng.random(n) < 0.01
    pred[flat, 2] = pred[flat, 0]
    miss = rng.random(n) < 0.10
    preds: list[Box | None] = [None if m else tuple(p)
                               for m, p in zip(miss, pred.tolist(), strict=True)]
    return preds, [tuple(g) for g in gold.tolist()]


def naive_overlaps(pred: list[Box | None], gold: list[Box]) -> tuple[list[float], list[float]]:
    """Intersection and union of each item, one item at a time."""
    inters, unions = [], []
    for p, g in zip(pred, gold, strict=True):
        ga = (g[2] - g[0]) * (g[3] - g[1])
        if p is None:
            inters.append(0.0)
            unions.append(ga)
            continue
        iw = max(0.0, min(p[2], g[2]) - max(p[0], g[0]))
        ih = max(0.0, min(p[3], g[3]) - max(p[1], g[1]))
        inter = iw * ih
        inters.append(inter)
        unions.append((p[2] - p[0]) * (p[3] - p[1]) + ga - inter)
    return inters, unions


def naive_metrics(inters: list[float], unions: list[float]) -> tuple[float, float, float]:
    ious = [i / u if u > 0 else 0.0 for i, u in zip(inters, unions, strict=True)]
    total_u = sum(unions)
    ciou = sum(inters) / total_u if total_u > 0 else 0.0
    return ciou, sum(ious) / len(ious), sum(v >= 0.5 for v in ious) / len(ious)


def naive_box_metrics(pred: list[Box | None], gold: list[Box], n_boot: int, seed: int
                      ) -> tuple[tuple[float, float, float], list[tuple[float, float]]]:
    """Point metrics and percentile intervals, resampling item by item in Python."""
    inters, unions = naive_overlaps(pred, gold)
    point = naive_metrics(inters, unions)
    n = len(gold)
    draws = np.random.default_rng(seed).integers(0, n, size=(n_boot, n),
                                                 dtype=np.uint32).tolist()
    reps = [naive_metrics([inters[i] for i in idx], [unions[i] for i in idx]) for idx in draws]
    cis = [tuple(float(v) for v in np.quantile([r[k] for r in reps], [0.025, 0.975]))
           for k in range(3)]
    return point, cis


def region_records(root: Path, n: int, seed: int, size: int = 64) -> pa.Table:
    """``n`` records, each a PNG of ``size`` px with one or two labelled boxes."""
    rng = np.random.default_rng(seed)
    (root / "img").mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size, size), dtype=np.uint8)).save(
            root / "img" / f"{i}.png")
        regions = []
        for label in ("Nodule", "Cyst")[: 1 + i % 2]:
            x1, y1 = (int(v) for v in rng.integers(0, size - 8, 2))
            w, h = (int(v) for v in rng.integers(4, 8, 2))
            regions.append(Region((x1, y1, x1 + w, y1 + h), label, w * h))
        records.append(ImageRecord(
            record_id=f"r{i}", image=f"img/{i}.png", labels=("Nodule",), modality="X-ray",
            area="Brain", task="Detection/segmentation", subset="xray-brain-detseg",
            split="test", regions=tuple(regions)))
    return records_to_table(records)


def naive_box_items(table: pa.Table, root: Path) -> list[dict]:
    """One record at a time: decode the image for its size, first label's outer extent."""
    items = []
    for i, rec in enumerate(table.to_pylist()):
        with Image.open(root / rec["image"]) as img:
            width, height = img.convert("RGB").size  # full decode, as a plain loader would
        boxes = [r for r in rec["regions"] if r["label"] == rec["regions"][0]["label"]]
        extent = (min(r["x1"] for r in boxes), min(r["y1"] for r in boxes),
                  max(r["x2"] for r in boxes), max(r["y2"] for r in boxes))
        box = from_pixels(extent, width, height)
        item = {"id": i, "image": rec["image"], "Answer": format_box(box),
                "Question": f"Where is the {boxes[0]['label'].lower()}?", "answer_box": box}
        json.dumps(item)
        items.append(item)
    return items


def bench_items(n: int, seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        table = region_records(root, n, seed)
        t_naive, naive = _timed(lambda: naive_box_items(table, root))
        t_fast, fast = _timed(lambda: list(iter_items(table, seed=seed, image_root=root)))
    # one-label records must agree exactly (two-label records draw their finding)
    same = all(f.answer_box == tuple(nv["answer_box"]) for f, nv in zip(fast, naive, strict=True)
               if f.record_id in {f"r{i}" for i in range(0, n, 2)})
    print(f"\n## Box-item building on {n} region records (64 px PNGs), 1 process\n")
    print(f"| {'what':<44} | {'seconds':>8} | {'items/s':>12} | {'speed-up':>8} |")
    print(f"|{'-' * 46}|{'-' * 10}|{'-' * 14}|{'-' * 10}|")
    print(f"| {'naive per-record builder':<44} | {t_naive:>8.3f} | {n / t_naive:>12,.0f} | "
          f"{1.0:>7.1f}x |")
    print(f"| {'medmat.qa.iter_items (grounding items)':<44} | {t_fast:>8.3f} | "
          f"{n / t_fast:>12,.0f} | {t_naive / t_fast:>7.1f}x |")
    print(f"same boxes on the one-label records: {same}")
    if not same:
        raise SystemExit("MISMATCH between the naive builder and medmat's grounding items")


def _timed(fn, repeat: int = 3):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="box pairs")
    ap.add_argument("--boot", type=int, default=1000, help="bootstrap replicates (numpy)")
    ap.add_argument("--naive-boot", type=int, default=20, help="bootstrap replicates (naive)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--items", type=int, default=5000, help="region records (box items)")
    args = ap.parse_args()
    bench_items(args.items, args.seed)
    pred, gold = random_pairs(args.n, args.seed)
    n_miss = sum(p is None for p in pred)

    t_naive, naive = _timed(lambda: naive_metrics(*naive_overlaps(pred, gold)))
    t_vec, vec = _timed(lambda: box_metrics(pred, gold, n_boot=1, seed=args.seed))
    pred_arr = np.array([(np.nan,) * 4 if p is None else p for p in pred])
    gold_arr = np.array(gold)
    t_arr, vec_arr = _timed(lambda: box_metrics(pred_arr, gold_arr, n_boot=1, seed=args.seed))
    assert vec_arr == vec
    vec_point = (vec.ciou, vec.miou, vec.acc50)
    same_point = all(abs(a - b) < 1e-9 for a, b in zip(naive, vec_point, strict=True))

    t_nb, (_, naive_cis) = _timed(
        lambda: naive_box_metrics(pred, gold, args.naive_boot, args.seed), repeat=1)
    small = box_metrics(pred, gold, n_boot=args.naive_boot, seed=args.seed)
    small_cis = [small.ciou_ci95, small.miou_ci95, small.acc50_ci95]
    same_ci = all(abs(a - b) < 1e-9 for x, y in zip(naive_cis, small_cis, strict=True)
                  for a, b in zip(x, y, strict=True))
    t_vb, full = _timed(lambda: box_metrics(pred, gold, n_boot=args.boot, seed=args.seed),
                        repeat=1)

    print(f"\n## Grounding metrics on {args.n} box pairs ({n_miss} misses), 1 process\n")
    print(f"| {'what':<44} | {'seconds':>8} | {'items/s':>12} | {'speed-up':>8} |")
    print(f"|{'-' * 46}|{'-' * 10}|{'-' * 14}|{'-' * 10}|")
    rows = [
        ("point metrics, naive Python loop", t_naive, args.n / t_naive, 1.0),
        ("point metrics, medmat, lists of tuples in", t_vec, args.n / t_vec, t_naive / t_vec),
        ("point metrics, medmat, numpy arrays in", t_arr, args.n / t_arr, t_naive / t_arr),
        (f"bootstrap, naive ({args.naive_boot} replicates)", t_nb,
         args.n * args.naive_boot / t_nb, 1.0),
        (f"bootstrap, medmat ({args.boot} replicates)", t_vb, args.n * args.boot / t_vb,
         (args.n * args.boot / t_vb) / (args.n * args.naive_boot / t_nb)),
    ]
    for name, sec, rate, speed in rows:
        print(f"| {name:<44} | {sec:>8.3f} | {rate:>12,.0f} | {speed:>7.1f}x |")
    print("(medmat rows include one bootstrap replicate; bootstrap items/s counts "
          "item-replicates)")
    print(f"\ncIoU {vec.ciou:.4f}  mIoU {vec.miou:.4f}  acc@0.5 {vec.acc50:.4f}")
    print(f"naive:  cIoU {naive[0]:.4f}  mIoU {naive[1]:.4f}  acc@0.5 {naive[2]:.4f}")
    print(f"same point metrics (1e-9): {same_point}; "
          f"same {args.naive_boot}-replicate intervals (1e-9): {same_ci}")
    print(f"cIoU 95% interval ({args.boot} replicates): "
          f"[{full.ciou_ci95[0]:.4f}, {full.ciou_ci95[1]:.4f}]")
    if not (same_point and same_ci):
        raise SystemExit("MISMATCH between the naive loop and medmat.evaluate.boxes")


if __name__ == "__main__":
    main()
