"""Leakage guard benchmark: hashing speed, near-pair search speed, recall and false positives.

Run:  .venv/bin/python benchmarks/bench_hashing.py [--n 400] [--copies 60] [--seed 0]

1. Throughput (images/s) on PNG files, against two baselines measured in the same run:
   file SHA-1 (fast but blind to re-encoding) and a pure-Python perceptual hash (Pillow +
   Python loops, what one writes without numpy).
2. Near-pair search: multi-index hashing (medmat) vs brute-force all pairs (numpy), same result.
3. Recall on planted copies (re-saved PNG, JPEG q=75, resized 0.5x and 2x) and false positives
   among distinct images, per threshold, on three image families: smooth "natural-ish" random
   pictures, synthetic shapes on a uniform background, and medmat's own synthetic lab renders.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import math
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from medmat.imaging import open_image, phash, pixel_sha1
from medmat.leakage.nearpairs import distinct_near_pairs, popcount, to_uint64

THRESHOLDS = (0, 2, 4, 6, 8, 10, 12)


# ------------------------------------------------------------------------------------ images
def natural(rng: np.random.Generator, size: int) -> Image.Image:
    """Multi-octave smooth noise (RGB): photo-like spectra, every image distinct."""
    acc = np.zeros((size, size, 3))
    for octave, weight in ((4, 1.0), (8, 0.5), (16, 0.25), (32, 0.125)):
        coarse = rng.integers(0, 256, size=(octave, octave, 3), dtype=np.uint8)
        up = Image.fromarray(coarse, "RGB").resize((size, size), Image.Resampling.BICUBIC)
        acc += weight * np.asarray(up, dtype=np.float64)
    acc = (acc - acc.min()) / max(np.ptp(acc), 1e-9) * 255
    return Image.fromarray(acc.astype(np.uint8), "RGB")


def shapes(rng: np.random.Generator, size: int) -> Image.Image:
    """A few flat ellipses/rectangles on a uniform grey background (very uniform images)."""
    img = Image.new("L", (size, size), int(rng.integers(20, 60)))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(2, 5))):
        x0, y0 = rng.integers(0, size * 3 // 4, size=2).tolist()
        w, h = rng.integers(size // 8, size // 2, size=2).tolist()
        box = (x0, y0, min(size - 1, x0 + w), min(size - 1, y0 + h))
        fill = int(rng.integers(100, 256))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=fill)
    return img


def synth_lab(n: int) -> list[tuple[Image.Image, str]] | None:
    """(image, cell) from medmat's synthetic lab, several items per cell; None if unavailable."""
    try:
        from medmat.synth import LabConfig, full_lattice, render_item
    except ImportError:
        return None
    cells = full_lattice()
    per_cell = 20
    out = []
    for cell in cells[: max(1, math.ceil(n / per_cell))]:
        for i in range(per_cell):
            arr, _ = render_item(cell, "train", i, LabConfig())
            out.append((Image.fromarray(arr), cell.subset))
    return out[:n]


def jpeg(img: Image.Image, quality: int = 75) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as out:
        return out.convert(img.mode)


def resized(img: Image.Image, factor: float) -> Image.Image:
    w, h = img.size
    return img.resize((max(1, int(w * factor)), max(1, int(h * factor))),
                      Image.Resampling.BILINEAR)


def resaved(img: Image.Image) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=9)
    buf.seek(0)
    with Image.open(buf) as out:
        out.load()
        return out.copy()


COPIES = {"re-saved PNG": resaved, "JPEG q=75": jpeg, "resize 0.5x": lambda i: resized(i, 0.5),
          "resize 2x": lambda i: resized(i, 2.0)}


# ------------------------------------------------------------------------ naive baseline hash
def naive_phash(img: Image.Image) -> int:
    """The same DCT phash written with Pillow and plain Python loops (no numpy)."""
    n = 32
    px = list(img.convert("L").resize((n, n), Image.Resampling.BILINEAR).tobytes())
    rows = [px[r * n:(r + 1) * n] for r in range(n)]
    cos = [[math.cos(math.pi * (2 * i + 1) * k / (2 * n)) for i in range(n)] for k in range(8)]
    scale = [math.sqrt(1.0 / n)] + [math.sqrt(2.0 / n)] * 7
    # separable 2-D DCT, low 8x8 block only
    tmp = [[scale[k] * sum(cos[k][i] * row[i] for i in range(n)) for k in range(8)]
           for row in rows]
    coeffs = [scale[u] * sum(cos[u][r] * tmp[r][v] for r in range(n))
              for u in range(8) for v in range(8)]
    ac = coeffs[1:]  # the DC bit stays 0, as in medmat's phash
    med = sorted(ac)[len(ac) // 2]
    value = 0
    for c in ac:
        value = (value << 1) | int(c > med)
    return value


# -------------------------------------------------------------------------------- measuring
def rate(fn, items, repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        for it in items:
            fn(it)
    return repeat * len(items) / (time.perf_counter() - start)


def throughput(n: int, seed: int, tmp: Path) -> list[tuple[str, float]]:
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        p = tmp / f"tp_{i:05d}.png"
        natural(rng, 256).save(p)
        paths.append(p)
    decoded = [open_image(p) for p in paths]
    n_naive = max(5, n // 20)
    return [
        ("file SHA-1 of the bytes (baseline; misses re-encodes)",
         rate(lambda p: hashlib.sha1(p.read_bytes()).hexdigest(), paths, 3)),
        ("naive pure-Python phash, decoded (baseline)", rate(naive_phash, decoded[:n_naive])),
        ("medmat pixel_sha1 + phash, decoded images", rate(
            lambda im: (pixel_sha1(im), phash(im)), decoded)),
        ("PNG decode only (open_image)", rate(open_image, paths)),
        ("medmat decode + pixel_sha1 + phash (what `medmat leakage` does)", rate(
            lambda p: (lambda im: (pixel_sha1(im), phash(im)))(open_image(p)), paths)),
    ]


def pair_search(m: int, seed: int, threshold: int = 6) -> list[tuple[str, float, int]]:
    rng = np.random.default_rng(seed)
    values = np.unique(rng.integers(0, 2**63, size=m, dtype=np.int64).view(np.uint64))
    # plant m/10 near copies (1-6 flipped bits) so there is something to find
    planted = values[: m // 10].copy()
    for k in range(len(planted)):
        for bit in rng.choice(64, size=int(rng.integers(1, 7)), replace=False):
            planted[k] ^= np.uint64(1) << np.uint64(int(bit))
    values = np.unique(np.concatenate([values, planted]))
    out = []
    for name, bands in (("multi-index hashing (medmat)", None), ("brute force, numpy", 0)):
        start = time.perf_counter()
        a, _, _ = distinct_near_pairs(values, threshold, bands=bands)
        out.append((name, time.perf_counter() - start, len(a)))
    return out


def hashes_of(images: list[Image.Image]) -> tuple[list[str], np.ndarray]:
    """Hash as the pipeline does: from a PNG file, decoded by open_image."""
    sha, ph = [], []
    for img in images:
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        buf.seek(0)
        with Image.open(buf) as dec:
            dec.load()
            rgb = dec.convert("RGB")
        sha.append(pixel_sha1(rgb))
        ph.append(phash(rgb))
    return sha, to_uint64(np.array(ph, dtype=np.int64))


def recall_and_fp(families: dict[str, list[Image.Image]], n_copies: int,
                  groups: dict[str, list[str]]) -> tuple[list, list]:
    recall_rows, fp_rows = [], []
    for fam, images in families.items():
        sha, ph = hashes_of(images)
        originals = list(range(min(n_copies, len(images))))
        for cname, make in COPIES.items():
            csha, cph = hashes_of([make(images[i]) for i in originals])
            dist = popcount(ph[originals] ^ cph)
            exact = np.array([sha[i] == csha[k] for k, i in enumerate(originals)])
            recall_rows.append((fam, cname, int(exact.sum()), len(originals),
                                [float(((dist <= t) | exact).mean()) for t in THRESHOLDS]))
        # false positives: distinct originals whose hashes fall within t
        d = popcount(ph[:, None] ^ ph[None, :])
        iu = np.triu_indices(len(images), 1)
        pair_d = d[iu]
        same_group = None
        if fam in groups:
            g = np.array(groups[fam])
            same_group = (g[:, None] == g[None, :])[iu]
        row = []
        for t in THRESHOLDS:
            hit = pair_d <= t
            involved = np.zeros(len(images), dtype=bool)
            involved[iu[0][hit]] = True
            involved[iu[1][hit]] = True
            same = None if same_group is None else int((hit & same_group).sum())
            row.append((int(hit.sum()), float(involved.mean()), same))
        fp_rows.append((fam, len(images), len(pair_d), row,
                        None if same_group is None else int(same_group.sum())))
    return recall_rows, fp_rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=400, help="distinct images per family")
    ap.add_argument("--copies", type=int, default=60, help="planted copies per copy type")
    ap.add_argument("--pairs", type=int, default=20000, help="hashes for the pair search")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tp = throughput(args.n, args.seed, Path(tmp))
    base = tp[0][1]
    print(f"\n## Hashing throughput ({args.n} RGB 256x256 PNG files, 1 process)\n")
    print(f"| {'method':<66} | {'images/s':>9} | {'vs file SHA-1':>13} |")
    print(f"|{'-' * 68}|{'-' * 11}|{'-' * 15}|")
    for name, r in tp:
        print(f"| {name:<66} | {r:>9.0f} | {r / base:>12.2f}x |")

    print(f"\n## Near-pair search, threshold 6 ({args.pairs} random hashes + 10% planted)\n")
    ps = pair_search(args.pairs, args.seed)
    print(f"| {'method':<30} | {'seconds':>8} | {'pairs':>6} |")
    print(f"|{'-' * 32}|{'-' * 10}|{'-' * 8}|")
    for name, sec, n in ps:
        print(f"| {name:<30} | {sec:>8.3f} | {n:>6} |")
    print(f"speed-up {ps[1][1] / ps[0][1]:.0f}x, same pairs: {ps[0][2] == ps[1][2]}")

    rng = np.random.default_rng(args.seed + 1)
    families: dict[str, list[Image.Image]] = {
        "natural-ish 128px": [natural(rng, 128) for _ in range(args.n)],
        "shapes 128px": [shapes(rng, 128) for _ in range(args.n)],
    }
    groups: dict[str, list[str]] = {}
    lab = synth_lab(args.n)
    if lab is not None:
        families["synthetic lab 64px"] = [im for im, _ in lab]
        groups["synthetic lab 64px"] = [c for _, c in lab]
    recall_rows, fp_rows = recall_and_fp(families, args.copies, groups)

    heads = " | ".join(f"t<={t:<2}" for t in THRESHOLDS)
    print("\n## Recall on planted copies (exact SHA-1 match or phash within t bits)\n")
    print(f"| {'family':<19} | {'copy':<12} | exact | {heads} |")
    print(f"|{'-' * 21}|{'-' * 14}|-------|" + "|".join(["-------"] * len(THRESHOLDS)) + "|")
    for fam, cname, n_exact, n, rec in recall_rows:
        cells = " | ".join(f"{r:>5.0%}" for r in rec)
        print(f"| {fam:<19} | {cname:<12} | {n_exact:>2}/{n:<2} | {cells} |")

    print("\n## False positives among distinct images (pairs within t bits; share of images "
          "with a false match)\n")
    print(f"| {'family':<19} | images | pairs  | {heads} |")
    print(f"|{'-' * 21}|--------|--------|" + "|".join(["-------"] * len(THRESHOLDS)) + "|")
    for fam, n, n_pairs, row, same_pairs in fp_rows:
        cells = " | ".join(f"{c:>5}" for c, _, _ in row)
        shares = " | ".join(f"{s:>5.0%}" for _, s, _ in row)
        print(f"| {fam:<19} | {n:>6} | {n_pairs:>6} | {cells} |")
        print(f"| {'  images matched':<19} | {'':>6} | {'':>6} | {shares} |")
        if same_pairs is not None:
            same = " | ".join(f"{c:>5}" for _, _, c in row)
            print(f"| {'  same-cell pairs':<19} | {'':>6} | {same_pairs:>6} | {same} |")


if __name__ == "__main__":
    main()
