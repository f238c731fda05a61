"""The multi-index near-pair search must find exactly what brute force finds."""

from __future__ import annotations

import numpy as np
import pytest

from medmat.leakage.nearpairs import (
    distinct_near_pairs,
    max_pairwise_distance,
    near_components,
    near_pairs,
    plan_bands,
    to_uint64,
)


def _planted_hashes(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**63, size=n, dtype=np.int64).view(np.uint64)
    near = base[: n // 3].copy()
    for k in range(len(near)):
        for bit in rng.integers(0, 64, size=rng.integers(0, 9)):
            near[k] ^= np.uint64(1) << np.uint64(int(bit))
    return np.unique(np.concatenate([base, near]))


def _as_set(triple) -> set[tuple[int, int, int]]:
    return set(zip(*[x.tolist() for x in triple], strict=True))


@pytest.mark.parametrize("threshold", [0, 1, 4, 6, 10])
@pytest.mark.parametrize("bands", [None, 3, 4, "t+1"])
def test_multi_index_equals_bruteforce(threshold, bands):
    values = _planted_hashes(600, seed=threshold)
    m = threshold + 1 if bands == "t+1" else bands
    expected = _as_set(distinct_near_pairs(values, threshold, bands=0))
    got = _as_set(distinct_near_pairs(values, threshold, bands=m))
    assert got == expected
    if threshold >= 4:
        assert expected, "the planted copies must produce pairs"
    for a, b, d in got:
        assert a < b and d <= threshold
        assert d == int(np.bitwise_count(values[a] ^ values[b]))


def test_skewed_buckets_are_chunked(monkeypatch):
    # Many hashes sharing all but a few bits force huge buckets; chunking must not lose pairs.
    import medmat.leakage.nearpairs as mod

    monkeypatch.setattr(mod, "_MAX_CHUNK_PAIRS", 50)
    rng = np.random.default_rng(1)
    values = np.unique((rng.integers(0, 2**10, size=300) | (0xABCD << 40)).astype(np.uint64))
    assert _as_set(distinct_near_pairs(values, 3)) == _as_set(
        distinct_near_pairs(values, 3, bands=0))


def test_near_pairs_expands_identical_hashes_and_signed_values():
    # -1 is all ones: one bit away from 2**63 - 1 (the top bit differs)
    pairs = near_pairs([1, 1, 3, 2**63 - 1, -1], 1)
    assert pairs == [(0, 1, 0), (0, 2, 1), (1, 2, 1), (3, 4, 1)]
    assert near_pairs([5], 3) == []


def test_components_are_transitive():
    # 0 -> 1 bit -> 2 bits (chain of 1-bit steps) and a far-away hash
    labels = near_components([0b000, 0b001, 0b011, 0b111, 2**40 + 2**41 + 2**42], 1)
    assert len(set(labels[:4].tolist())) == 1
    assert labels[4] != labels[0]


def test_plan_bands_and_limits():
    assert plan_bands(100, 0) == (1, 0)
    for n in (10, 10_000, 1_000_000):
        m, r = plan_bands(n, 6)
        assert 1 <= m <= 7 and r == 6 // m
    with pytest.raises(ValueError):
        plan_bands(10, -1)
    with pytest.raises(ValueError, match="too many probes"):
        distinct_near_pairs(np.arange(4, dtype=np.uint64), 10, bands=1)
    assert max_pairwise_distance(to_uint64([0, 7, 1])) == 3
    assert max_pairwise_distance(to_uint64(list(range(10))), limit=5) is None
