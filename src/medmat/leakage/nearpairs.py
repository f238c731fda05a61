"""Find all pairs of 64-bit perceptual hashes within a Hamming distance, without O(N^2) work.

Multi-index hashing by the pigeonhole principle: cut the 64 bits into ``m`` bands. If two hashes
differ in at most ``t`` bits, at least one band differs in at most ``t // m`` bits. So for every
band we bucket the hashes by that band's value and probe every bucket within ``t // m`` flipped
bits; the candidates are then verified with an exact popcount. With ``m = t + 1`` the probe is an
exact band match (the textbook variant); fewer, wider bands with a 1-bit probe are cheaper for
large collections, so :func:`plan_bands` picks ``m`` from an estimate of the candidate count.

The search runs on *distinct* hash values, so thousands of identical hashes (a blank image saved
at several sizes) cost one bucket entry, not a quadratic number of pairs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

_MAX_CHUNK_PAIRS = 4_000_000  # candidate pairs materialised at once (about 100 MB of int64)
_TABLE_BITS = 22  # bands up to this width use a direct bucket table (2**22 int64 = 32 MB)


def to_uint64(hashes: Sequence[int] | np.ndarray) -> np.ndarray:
    """Signed int64 hashes (as stored in Arrow) viewed as unsigned 64-bit words."""
    arr = np.asarray(hashes)
    if arr.dtype == np.uint64:
        return arr
    if arr.dtype == object:  # python ints, possibly >= 2**63
        return np.array([int(h) & 0xFFFFFFFFFFFFFFFF for h in arr], dtype=np.uint64)
    return arr.astype(np.int64).view(np.uint64)


_BYTE_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def popcount(words: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (``np.bitwise_count`` on NumPy 2, a byte table on NumPy 1)."""
    words = np.ascontiguousarray(words, dtype=np.uint64)
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(words).astype(np.int64)
    per_byte = _BYTE_BITS[words.view(np.uint8)].reshape(words.shape + (8,))
    return per_byte.sum(axis=-1, dtype=np.int64)


def hamming_many(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise Hamming distance of two uint64 arrays."""
    return popcount(np.bitwise_xor(a, b))


def _band_layout(m: int) -> list[tuple[int, int]]:
    """(offset, width) of ``m`` near-equal bands covering 64 bits."""
    base, extra = divmod(64, m)
    layout, off = [], 0
    for k in range(m):
        w = base + (1 if k < extra else 0)
        layout.append((off, w))
        off += w
    return layout


def _probe_count(width: int, radius: int) -> int:
    return sum(math.comb(width, k) for k in range(radius + 1))


def plan_bands(n: int, threshold: int) -> tuple[int, int]:
    """Choose (bands, probe radius) minimising probes + expected candidates for ``n`` hashes.

    Assumes roughly uniform band values; real hashes cluster, which only makes wide bands (and
    so the small ``m`` this prefers for large ``n``) more attractive.
    """
    if threshold < 0:
        raise ValueError("threshold must be >= 0")
    best: tuple[float, int, int] | None = None
    for m in range(1, min(threshold + 1, 64) + 1):
        radius = threshold // m
        width = 64 // m
        probes = _probe_count(width, radius)
        if probes > 5000:  # flip enumeration itself would dominate
            continue
        cost = m * probes * n * (1.0 + n / float(2**width))
        if best is None or cost < best[0]:
            best = (cost, m, radius)
    if best is None:  # enormous threshold: brute force is the honest answer
        return 0, 0
    return best[1], best[2]


def _flip_masks(width: int, radius: int) -> np.ndarray:
    masks = [0]
    for k in range(1, radius + 1):
        for bits in itertools.combinations(range(width), k):
            masks.append(sum(1 << b for b in bits))
    return np.array(masks, dtype=np.uint64)


def _bruteforce_distinct(values: np.ndarray, threshold: int) -> tuple[np.ndarray, ...]:
    n = len(values)
    out_a, out_b, out_d = [], [], []
    step = max(1, _MAX_CHUNK_PAIRS // max(n, 1))
    for start in range(0, n, step):
        block = values[start : start + step]
        dist = popcount(block[:, None] ^ values[None, :])
        ia, jb = np.nonzero(dist <= threshold)
        ia = ia + start
        keep = ia < jb
        out_a.append(ia[keep])
        out_b.append(jb[keep])
        out_d.append(dist[ia[keep] - start, jb[keep]])
    return _concat(out_a, out_b, out_d)


def _concat(a: list, b: list, d: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not a:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy()
    return np.concatenate(a), np.concatenate(b), np.concatenate(d)


def distinct_near_pairs(
    values: np.ndarray, threshold: int, *, bands: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(a, b, distance)`` with ``a < b`` among *distinct* uint64 ``values``.

    ``bands=None`` lets :func:`plan_bands` decide; ``bands=0`` forces brute force (the
    reference implementation the tests compare against).
    """
    values = np.asarray(values, dtype=np.uint64)
    n = len(values)
    if n < 2:
        return _concat([], [], [])
    if bands is None:
        bands, radius = plan_bands(n, threshold)
    else:
        radius = threshold // bands if bands else 0
        if bands and _probe_count(64 // bands, radius) > 50_000:
            raise ValueError(f"{bands} band(s) at threshold {threshold} need too many probes")
    if bands == 0:
        return _bruteforce_distinct(values, threshold)
    found_a, found_b, found_d = [], [], []
    idx = np.arange(n, dtype=np.int64)
    for off, width in _band_layout(bands):
        band = (values >> np.uint64(off)) & np.uint64((1 << width) - 1)
        order = np.argsort(band, kind="stable")
        sorted_band = band[order]
        # Bucket boundaries: a direct table for narrow bands (an O(1) gather per probe, much
        # faster than a binary search), binary search for wide ones.
        starts = None
        if width <= _TABLE_BITS:
            starts = np.zeros((1 << width) + 1, dtype=np.int64)
            np.cumsum(np.bincount(band.astype(np.int64), minlength=1 << width), out=starts[1:])
        for flip in _flip_masks(width, radius):
            query = band ^ flip
            if starts is not None:
                q = query.astype(np.int64)
                lo, hi = starts[q], starts[q + 1]
            else:
                lo = np.searchsorted(sorted_band, query, side="left")
                hi = np.searchsorted(sorted_band, query, side="right")
            counts = hi - lo
            if not counts.any():
                continue
            # Process query rows in chunks so a skewed bucket cannot exhaust memory.
            cum = np.cumsum(counts)
            start = 0
            while start < n:
                base = cum[start - 1] if start else 0
                stop = int(np.searchsorted(cum, base + _MAX_CHUNK_PAIRS, side="right"))
                stop = max(stop, start + 1)
                c = counts[start:stop]
                total = int(c.sum())
                if total:
                    ii = np.repeat(idx[start:stop], c)
                    first = np.repeat(lo[start:stop] - (np.cumsum(c) - c), c)
                    jj = order[first + np.arange(total)]
                    keep = ii < jj
                    ii, jj = ii[keep], jj[keep]
                    dist = hamming_many(values[ii], values[jj])
                    ok = dist <= threshold
                    found_a.append(ii[ok])
                    found_b.append(jj[ok])
                    found_d.append(dist[ok])
                start = stop
    a, b, d = _concat(found_a, found_b, found_d)
    if len(a):  # the same pair is usually found through several bands
        key = a * n + b
        _, first = np.unique(key, return_index=True)
        a, b, d = a[first], b[first], d[first]
    return a, b, d


def near_pairs(
    hashes: Sequence[int] | np.ndarray, threshold: int, *, bands: int | None = None
) -> list[tuple[int, int, int]]:
    """All index pairs ``(i, j, distance)``, ``i < j``, whose hashes differ in <= threshold bits.

    Identical hashes are expanded to every pair of their indices (quadratic in the number of
    copies; use :func:`near_components` when only the groups are needed).
    """
    h = to_uint64(hashes)
    values, inverse = np.unique(h, return_inverse=True)
    members: list[list[int]] = [[] for _ in range(len(values))]
    for i, v in enumerate(inverse.tolist()):
        members[v].append(i)
    out: set[tuple[int, int, int]] = set()
    for group in members:
        out.update((i, j, 0) for i, j in itertools.combinations(group, 2))
    a, b, d = distinct_near_pairs(values, threshold, bands=bands)
    for va, vb, dist in zip(a.tolist(), b.tolist(), d.tolist(), strict=True):
        for i in members[va]:
            for j in members[vb]:
                out.add((min(i, j), max(i, j), dist))
    return sorted(out)


def near_components(
    hashes: Sequence[int] | np.ndarray, threshold: int, *, bands: int | None = None
) -> np.ndarray:
    """Connected-component label per hash (pairs within ``threshold`` are linked, transitively)."""
    # imported here: the exact guard imports this package and should stay light
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    h = to_uint64(hashes)
    values, inverse = np.unique(h, return_inverse=True)
    a, b, _ = distinct_near_pairs(values, threshold, bands=bands)
    k = len(values)
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(k, k))
    _, labels = connected_components(graph, directed=False)
    return labels[inverse]


def max_pairwise_distance(hashes: np.ndarray, limit: int = 4096) -> int | None:
    """Largest Hamming distance within a group, or None for groups larger than ``limit``."""
    h = to_uint64(hashes)
    if len(h) > limit:
        return None
    if len(h) < 2:
        return 0
    return int(popcount(h[:, None] ^ h[None, :]).max())
