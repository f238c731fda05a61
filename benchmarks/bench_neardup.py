"""Near-duplicate benchmark: recall on planted copies and false pairs among distinct look-alikes.

Run:  .venv/bin/python benchmarks/bench_neardup.py [--n 300] [--copies 100] [--size 128]
                                                   [--threshold 8] [--min-similarity 0.6]

Three families of distinct images (``--n`` each): natural-looking (smooth multi-octave colour
noise), flat (a few flat shapes on a uniform background) and medical-looking (low-contrast grey:
a background level, sensor noise and one soft blob: images of one "modality" look alike). For
the first ``--copies`` images of a family, five copies are planted: exact (re-saved PNG), JPEG
q=75, resized 0.5x and 2x, and a 5% crop (5% of width and height removed, split at random
between the sides). Every image goes through what ``medmat ingest`` / ``medmat leakage`` do:
PNG round trip, perceptual hash, crop-box hashes, candidate pairs within ``--threshold`` bits,
then the pixel check at ``--min-similarity``.

Reported per family: recall per copy type (the original-copy pair is found and verified),
false pairs among pairs of images made from *different* originals (hash candidates alone, and
after verification), and a sweep of ``--min-similarity`` that calibrates the default.
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np

# The natural-looking and flat image families are bench_hashing's (run from benchmarks/, the
# script's folder is on sys.path, as with `python benchmarks/bench_neardup.py`): one
# definition of each family for both benchmarks.
from bench_hashing import natural
from bench_hashing import shapes as flat
from PIL import Image

from medmat.imaging import phash, pixel_sha1
from medmat.leakage.neardup import candidate_pairs, score_pairs
from medmat.leakage.report import DEFAULT_THRESHOLD
from medmat.leakage.similarity import DEFAULT_MIN_SIMILARITY, crop_hashes, picture

COPY_TYPES = ("exact", "JPEG q=75", "resize 0.5x", "resize 2x", "crop 5%")


# ------------------------------------------------------------------------------- families
def medical(rng: np.random.Generator, size: int) -> Image.Image:
    """Low-contrast grey 'scan': background level, sensor noise and one soft blob."""
    yy, xx = np.mgrid[:size, :size]
    img = rng.uniform(70, 110) + rng.uniform(6, 12) * rng.normal(0, 1, (size, size))
    cy, cx = rng.uniform(0.25, 0.75, 2) * size
    radius = rng.uniform(0.06, 0.15) * size
    img += rng.uniform(15, 30) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "L")


FAMILIES = {"natural-looking": natural, "flat": flat, "medical-looking": medical}


# --------------------------------------------------------------------------------- copies
def png_roundtrip(img: Image.Image) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    buf.seek(0)
    with Image.open(buf) as dec:
        dec.load()
        return dec.convert("RGB")


def make_copy(img: Image.Image, kind: str, rng: np.random.Generator) -> Image.Image:
    w, h = img.size
    if kind == "exact":
        return img.copy()
    if kind == "JPEG q=75":
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=75)
        buf.seek(0)
        with Image.open(buf) as out:
            return out.convert(img.mode)
    if kind.startswith("resize"):
        f = 0.5 if "0.5" in kind else 2.0
        return img.resize((round(w * f), round(h * f)), Image.Resampling.BILINEAR)
    dw, dh = 0.05 * w, 0.05 * h
    fx, fy = rng.uniform(0, 1, size=2)
    return img.crop((round(fx * dw), round(fy * dh), round(fx * dw + w - dw),
                     round(fy * dh + h - dh)))


# ------------------------------------------------------------------------------ measuring
def run_family(make, n: int, n_copies: int, size: int, threshold: int, min_sim: float,
               seed: int) -> dict:
    rng = np.random.default_rng(seed)
    originals = [make(rng, size) for _ in range(n)]
    images, source, kind = list(originals), list(range(n)), ["original"] * n
    for k in COPY_TYPES:
        for i in range(min(n_copies, n)):
            images.append(make_copy(originals[i], k, rng))
            source.append(i)
            kind.append(k)
    decoded = [png_roundtrip(im) for im in images]  # what a records table's PNGs give back
    start = time.perf_counter()
    hashes = np.array([phash(im) for im in decoded], dtype=np.int64)
    crops = np.array([crop_hashes(im) for im in decoded], dtype=np.int64)
    t_hash = time.perf_counter() - start
    sha = [pixel_sha1(im) for im in decoded]
    start = time.perf_counter()
    pairs = candidate_pairs(hashes, threshold, crops)
    t_cand = time.perf_counter() - start
    start = time.perf_counter()
    pictures = {}

    def picture_of(i: int):
        if i not in pictures:
            pictures[i] = picture(decoded[i])
        return pictures[i]

    # min_similarity above 1: every candidate gets its best score (registration included), so
    # one run gives the decision at every threshold (production stops early once a pair passes,
    # which never changes whether it reaches the threshold).
    scored = list(zip(pairs, score_pairs(pairs, picture_of, 2.0), strict=True))
    t_verify = time.perf_counter() - start
    score = {(p.a, p.b): s for p, s in scored}
    n_img = len(images)
    src = np.array(source)
    distinct_pairs = (n_img * (n_img - 1) - sum(
        int(c) * (int(c) - 1) for c in np.bincount(src))) // 2
    copy_scores = {}
    for k in COPY_TYPES:
        sims = []
        for j in (j for j in range(n_img) if kind[j] == k):
            i = source[j]
            s = 1.0 if sha[i] == sha[j] else score.get((min(i, j), max(i, j)))
            sims.append(-1.0 if s is None else s)  # -1: not even a hash candidate
        copy_scores[k] = np.array(sims)
    false_scores = np.array([s for p, s in scored if source[p.a] != source[p.b]])
    return {
        "images": n_img, "distinct_pairs": distinct_pairs, "candidates": len(pairs),
        "copy_scores": copy_scores, "false_scores": false_scores,
        "recall": {k: float((v >= min_sim).mean()) for k, v in copy_scores.items()},
        "false_pairs": int((false_scores >= min_sim).sum()),
        "t_hash": t_hash, "t_cand": t_cand, "t_verify": t_verify,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="distinct images per family")
    ap.add_argument("--copies", type=int, default=100, help="planted copies per copy type")
    ap.add_argument("--size", type=int, default=128, help="image side in pixels")
    ap.add_argument("--threshold", type=int, default=DEFAULT_THRESHOLD,
                    help="hash candidate threshold (bits)")
    ap.add_argument("--min-similarity", type=float, default=DEFAULT_MIN_SIMILARITY)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows = {}
    for k, (fam, make) in enumerate(FAMILIES.items()):
        rows[fam] = run_family(make, args.n, args.copies, args.size, args.threshold,
                               args.min_similarity, args.seed + k)
    print(f"\n## Recall on planted copies ({args.copies} per type, {args.size}px, hash threshold "
          f"{args.threshold}, min similarity {args.min_similarity})\n")
    print("| family | " + " | ".join(COPY_TYPES) + " |")
    print("|---|" + "---:|" * len(COPY_TYPES))
    for fam, r in rows.items():
        print(f"| {fam} | " + " | ".join(f"{r['recall'][k]:.1%}" for k in COPY_TYPES) + " |")
    print("\n## False pairs among images of different originals\n")
    print("| family | images | distinct pairs | hash candidates | false after hash only | "
          "false after verification | rate |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for fam, r in rows.items():
        print(f"| {fam} | {r['images']} | {r['distinct_pairs']} | {r['candidates']} | "
              f"{len(r['false_scores'])} | {r['false_pairs']} | "
              f"{r['false_pairs'] / r['distinct_pairs']:.4%} |")
    sweep = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
    print("\n## Calibration: lowest recall over copy types / false pairs, per min similarity\n")
    print("| family | weakest copy | strongest false candidate | " +
          " | ".join(f"{t:.1f}" for t in sweep) + " |")
    print("|---|---:|---:|" + "---:|" * len(sweep))
    for fam, r in rows.items():
        found = [v[v > -1] for v in r["copy_scores"].values()]
        cells = []
        for t in sweep:
            worst = min(float((v >= t).mean()) for v in r["copy_scores"].values())
            cells.append(f"{worst:.1%} / {int((r['false_scores'] >= t).sum())}")
        strongest = r["false_scores"].max() if len(r["false_scores"]) else float("nan")
        print(f"| {fam} | {min(float(v.min()) for v in found):.3f} | {strongest:.3f} | "
              + " | ".join(cells) + " |")
    print("\n## Time (s): hashing (phash + 16 crop hashes), candidate search, scoring every "
          "candidate\n")
    for fam, r in rows.items():
        print(f"- {fam}: {r['t_hash']:.1f} / {r['t_cand']:.2f} / {r['t_verify']:.1f} "
              f"({r['candidates']} candidates)")


if __name__ == "__main__":
    main()
