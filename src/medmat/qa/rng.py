"""Counter-based randomness: every random choice of an item is a pure function of (seed, record_id).

Why not ``random.Random`` per item: seeding a Mersenne Twister costs microseconds per item and
cannot be vectorised. Here the item's random stream is SplitMix64 started at a 64-bit item key,
so a whole batch of items draws its numbers with a handful of numpy operations, and item *i*
gets the same template and distractors whatever else is in the table (order-independent,
streaming-friendly).

    item key   = mix(fnv1a64(utf8(record_id)) ^ mix(seed))
    draw(s)    = mix(key + (s + 1) * GOLDEN)        # the s-th SplitMix64 output

``mix`` is the SplitMix64 finaliser (a strong 64-bit bijective mixer), which hides FNV-1a's weak
avalanche. The scalar functions are the specification; the numpy ones must agree bit for bit
(tests check it).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3

# Draw numbers of an item's stream (s in draw(s)); label j's distractor score is draw(LABEL0 + j).
DRAW_TEMPLATE = 0
DRAW_TRUE_LABEL = 1
DRAW_LABEL0 = 2


# ----------------------------------------------------------------------------- scalar (spec)


def mix(x: int) -> int:
    """SplitMix64 finaliser on a python int (mod 2**64)."""
    z = x & MASK64
    z = ((z ^ (z >> 30)) * _M1) & MASK64
    z = ((z ^ (z >> 27)) * _M2) & MASK64
    return z ^ (z >> 31)


def fnv1a64(data: bytes) -> int:
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK64
    return h


def item_key(seed: int, record_id: str) -> int:
    return mix(fnv1a64(record_id.encode("utf-8")) ^ mix(seed))


def draw(key: int, s: int) -> int:
    return mix(key + (s + 1) * GOLDEN)


def string_key(seed: int, text: str, person: bytes) -> int:
    """Keyed 64-bit hash of a short string (used once per group, so speed does not matter)."""
    digest = hashlib.blake2b(
        text.encode("utf-8"), digest_size=8, key=(seed & MASK64).to_bytes(8, "little"),
        person=person,
    ).digest()
    return int.from_bytes(digest, "little")


# ----------------------------------------------------------------------------- numpy (fast)

_U = np.uint64


def mix_np(x: np.ndarray) -> np.ndarray:
    z = x.astype(np.uint64, copy=True)
    z ^= z >> _U(30)
    z *= _U(_M1)
    z ^= z >> _U(27)
    z *= _U(_M2)
    z ^= z >> _U(31)
    return z


def draw_np(keys: np.ndarray, s: int | np.ndarray) -> np.ndarray:
    """draw(key, s) for arrays; ``s`` may be an int or an array broadcastable against keys."""
    # at least 1-d: numpy checks overflow (and warns) on scalars, never on arrays
    steps = (np.atleast_1d(np.asarray(s, dtype=np.uint64)) + _U(1)) * _U(GOLDEN)
    return mix_np(keys + steps)


def _string_bytes(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(data bytes, start offsets, lengths) of a string array, honouring slicing."""
    arr = arr.cast(pa.string()) if arr.type != pa.string() else arr
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    data_buf = arr.buffers()[2]
    data = np.zeros(0, np.uint8) if data_buf is None else np.frombuffer(data_buf, dtype=np.uint8)
    starts = offsets[:-1].astype(np.int64)
    return data, starts, np.diff(offsets).astype(np.int64)


def fnv1a64_np(arr: pa.Array) -> np.ndarray:
    """FNV-1a 64 of every string's UTF-8 bytes, vectorised over byte positions.

    Rows are visited longest first so that step j only touches the rows still longer than j:
    total work is the number of bytes, not rows x longest id.
    """
    data, starts, lens = _string_bytes(arr)
    n = len(lens)
    order = np.argsort(-lens, kind="stable")
    s_lens, s_starts = lens[order], starts[order]
    h = np.full(n, FNV_OFFSET, dtype=np.uint64)
    neg = -s_lens  # ascending
    prime = _U(FNV_PRIME)
    for j in range(int(s_lens[0]) if n else 0):
        c = int(np.searchsorted(neg, -j, side="left"))  # rows with length > j
        h[:c] = (h[:c] ^ data[s_starts[:c] + j]) * prime
    out = np.empty(n, dtype=np.uint64)
    out[order] = h
    return out


def item_keys_np(record_ids: pa.Array, seed: int) -> np.ndarray:
    seed_mix = np.full(len(record_ids), mix(seed), dtype=np.uint64)
    return mix_np(fnv1a64_np(record_ids) ^ seed_mix)


def check_seed(seed: object) -> int:
    from medmat.errors import MedmatError

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MASK64:
        raise MedmatError(f"seed={seed!r}: the seed must be an integer between 0 and 2**64-1")
    return int(seed)


__all__ = ["DRAW_LABEL0", "DRAW_TEMPLATE", "DRAW_TRUE_LABEL", "draw", "draw_np", "item_key",
           "item_keys_np", "mix", "mix_np", "string_key", "check_seed"]
