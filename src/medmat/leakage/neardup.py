"""Near duplicates in two stages: perceptual-hash candidates, then a check on the pixels.

1. **Candidates.** Two images are a candidate pair when their 64-bit perceptual hashes differ in
   at most ``threshold`` bits (multi-index search, :mod:`.nearpairs`), or, for cropped copies,
   when one image's hash is that close to the hash of one of the other's 95% crop boxes
   (:func:`~medmat.leakage.similarity.crop_hashes`: a 5% crop moves a hash by up to ~20 bits,
   but lands within a few bits of the nearest of 16 boxes).
2. **Verification.** A candidate is kept only when :func:`~medmat.leakage.similarity.similarity`
   (or, for crop candidates, the registered :func:`~.similarity.crop_similarity`) reaches
   ``min_similarity``. Look-alike images of one modality hash alike; their pixel detail does not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from medmat.errors import MedmatError
from medmat.leakage.nearpairs import distinct_near_pairs, to_uint64
from medmat.leakage.similarity import (
    DEFAULT_MIN_SIMILARITY,
    Picture,
    crop_similarity,
    similarity,
)
from medmat.progress import progress_bar

PICTURE_CACHE = 4096  # decoded pictures kept while verifying (about 100 KB each)
MAX_PAIRS = 20_000_000  # candidate (hash entry) pairs expanded at most


@dataclass
class Pair:
    """A candidate pair of images ``a < b``: their smallest hash distance, whether the full
    hashes matched (``plain``), and for crop candidates which image may be the larger field and
    the nearest of its crop boxes (``crops``: image -> (hash distance, box index))."""

    a: int
    b: int
    distance: int
    plain: bool = False
    crops: dict[int, tuple[int, int]] = field(default_factory=dict)  # image -> (distance, box)


def candidate_pairs(hashes: np.ndarray, threshold: int,
                    crops: np.ndarray | None = None) -> list[Pair]:
    """Candidate pairs among ``hashes`` (one per image), and with ``crops`` (images x boxes
    hashes) the crop candidates too; sorted by (a, b)."""
    full = to_uint64(hashes)
    n = len(full)
    keys, owner, box = full, np.arange(n), np.full(n, -1)  # box -1: the full image's hash
    if crops is not None and crops.size:
        keys = np.concatenate([full, to_uint64(crops.reshape(-1))])
        owner = np.concatenate([owner, np.repeat(np.arange(n), crops.shape[1])])
        box = np.concatenate([box, np.tile(np.arange(crops.shape[1]), n)])
    values, inverse = np.unique(keys, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(values) + 1))
    members = [order[bounds[v]:bounds[v + 1]] for v in range(len(values))]
    va, vb, dist = distinct_near_pairs(values, threshold)
    links = [(v, v, 0) for v in range(len(values)) if len(members[v]) > 1]
    links += list(zip(va.tolist(), vb.tolist(), dist.tolist(), strict=True))
    expanded = sum(len(members[x]) * len(members[y]) for x, y, _ in links)
    if expanded > MAX_PAIRS:  # thousands of images sharing one hash (blank frames...)
        raise MedmatError(
            f"{expanded:,} candidate image pairs within {threshold} bits: too many to check on "
            "pixels; lower --threshold, or use --no-near for such uniform data"
        )
    found: dict[tuple[int, int], Pair] = {}
    for x, y, d in links:
        for p in members[x].tolist():
            for q in members[y].tolist():
                op, oq, bp, bq = int(owner[p]), int(owner[q]), int(box[p]), int(box[q])
                if op == oq or (bp >= 0 and bq >= 0):
                    continue
                key = (min(op, oq), max(op, oq))
                pair = found.setdefault(key, Pair(*key, d))
                pair.distance = min(pair.distance, d)
                if bp < 0 and bq < 0:
                    pair.plain = True
                else:  # a full hash near a crop-box hash: the box's owner is the larger field
                    big, seen = (op, (d, bp)) if bp >= 0 else (oq, (d, bq))
                    pair.crops[big] = min(pair.crops.get(big, seen), seen)
    return [found[k] for k in sorted(found)]


def score_pairs(pairs: list[Pair], picture_of: Callable[[int], Picture],
                min_similarity: float, *, label: str = "checking near pairs on pixels"
                ) -> list[float]:
    """Each candidate's similarity; crop registration (slower) only runs for crop candidates
    whose plain similarity is below ``min_similarity``. Keep pairs scoring at least that."""
    load = lru_cache(maxsize=PICTURE_CACHE)(picture_of)
    scores = []
    with progress_bar(label, total=len(pairs)) as advance:
        for pair in pairs:
            a, b = load(pair.a), load(pair.b)
            score = similarity(a, b)
            # Registration with either image as the larger field (the wrong way round is
            # rejected cheaply by the coarse search).
            for large, small in ((a, b), (b, a)):
                if score >= min_similarity:
                    break
                score = max(score, crop_similarity(large, small, crop=bool(pair.crops)))
            scores.append(score)
            advance(1)
    return scores


def near_groups(hashes: np.ndarray, threshold: int, *, crops: np.ndarray | None = None,
                picture_of: Callable[[int], Picture] | None = None,
                min_similarity: float = DEFAULT_MIN_SIMILARITY
                ) -> list[tuple[list[int], float | None]]:
    """Images linked, transitively, by candidate pairs that pass the pixel check (every
    candidate when ``picture_of`` is None): each group's indices (ascending, groups of two or
    more) and its weakest verified link."""
    pairs = candidate_pairs(hashes, threshold, crops)
    scores: list[float | None] = [None] * len(pairs)
    if picture_of is not None:
        scores = list(score_pairs(pairs, picture_of, min_similarity))
    parent = list(range(len(hashes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    weakest: dict[int, float | None] = {}
    linked = [(p, s) for p, s in zip(pairs, scores, strict=True)
              if s is None or s >= min_similarity]
    for pair, _ in linked:
        ra, rb = find(pair.a), find(pair.b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    for pair, score in linked:
        root = find(pair.a)
        if score is not None:
            weakest[root] = min(weakest.get(root, score), score)
    comps: dict[int, list[int]] = {}
    for i in range(len(hashes)):
        comps.setdefault(find(i), []).append(i)
    return [(members, weakest.get(root)) for root, members in sorted(comps.items())
            if len(members) > 1]
