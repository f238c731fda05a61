"""Balanced answer letters: where the correct option goes, and how balanced the result is.

Scheme (deterministic and streaming): items are grouped by (subset, split, number of options,
correct label). Each group keeps a running counter c. The c-th item of a group falls in block
``c // n`` at slot ``c % n``; every block of n consecutive items of a group uses one permutation of
the n letter positions, picked by hashing (seed, group, block). Hence

* within every group, letter counts differ by at most one (exact balance per completed block),
  so neither a split nor any single label leans towards a letter;
* the position is not a plain cycle (A, B, C, D, A, ...), so a table sorted or interleaved in a
  regular way cannot line its labels up with letters.

This is the only part of an item that depends on the order of the records table (the template,
the correct label and the distractors depend on (seed, record_id) alone).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from medmat.qa.rng import GOLDEN, MASK64, mix, mix_np, string_key

MAX_OPTIONS = 4
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:MAX_OPTIONS]
_PERSON = b"medmat.qa.letter"

# PERMS[n][i] = i-th permutation (lexicographic) of range(n), padded into one array.
_NPERM = math.factorial(MAX_OPTIONS)
PERMS = np.zeros((MAX_OPTIONS + 1, _NPERM, MAX_OPTIONS), dtype=np.int64)
for _n in range(1, MAX_OPTIONS + 1):
    for _i, _p in enumerate(itertools.permutations(range(_n))):
        PERMS[_n, _i, :_n] = _p
FACT = np.array([math.factorial(n) for n in range(MAX_OPTIONS + 1)], dtype=np.uint64)


def group_key(seed: int, subset: str, split: str, n_options: int, label: str) -> int:
    return string_key(seed, f"{subset}\x1f{split}\x1f{n_options}\x1f{label}", _PERSON)


def position(ghash: int, counter: int, n_options: int) -> int:
    """Scalar specification of the balanced position (see module docstring)."""
    block, slot = divmod(counter, n_options)
    perm = mix((ghash + (block + 1) * GOLDEN) & MASK64) % math.factorial(n_options)
    return int(PERMS[n_options, perm, slot])


class LetterBalancer:
    """Running per-group counters; :meth:`positions` assigns a batch in row order."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._state: dict[tuple, list[int]] = {}  # group -> [counter, ghash]

    def positions(self, groups: list[tuple[str, str, int, str]], inverse: np.ndarray,
                  n_options: np.ndarray) -> np.ndarray:
        """Positions for rows whose group is ``groups[inverse[row]]`` (rows in table order)."""
        m = len(inverse)
        if m == 0:
            return np.zeros(0, dtype=np.int64)
        base = np.empty(len(groups), dtype=np.int64)
        ghash = np.empty(len(groups), dtype=np.uint64)
        for g, key in enumerate(groups):
            state = self._state.get(key)
            if state is None:
                state = self._state[key] = [0, group_key(self.seed, key[0], key[1], key[2], key[3])]
            base[g], ghash[g] = state[0], state[1]
        counts = np.bincount(inverse, minlength=len(groups))
        order = np.argsort(inverse, kind="stable")
        starts = np.cumsum(counts) - counts
        rank = np.empty(m, dtype=np.int64)
        rank[order] = np.arange(m) - np.repeat(starts, counts)
        counter = base[inverse] + rank
        n = n_options.astype(np.int64)
        block, slot = np.divmod(counter, n)
        perm = mix_np(ghash[inverse] + (block.astype(np.uint64) + np.uint64(1)) * np.uint64(GOLDEN))
        perm = (perm % FACT[n]).astype(np.int64)
        for g, key in enumerate(groups):
            self._state[key][0] += int(counts[g])
        return PERMS[n, perm, slot]


class LetterStats:
    """Letter counts overall and per number of options, with a chi-square test vs uniform."""

    def __init__(self) -> None:
        self.by_n = np.zeros((MAX_OPTIONS + 1, MAX_OPTIONS), dtype=np.int64)

    def add(self, n_options: np.ndarray, pos: np.ndarray) -> None:
        np.add.at(self.by_n, (n_options, pos), 1)

    def summary(self) -> dict:
        # scipy is a slow import, only needed for the build summary
        from medmat.evaluate.stats import chi_square

        overall = self.by_n.sum(axis=0)
        out: dict = {
            "overall": {LETTERS[i]: int(overall[i]) for i in range(MAX_OPTIONS)},
            "by_n_options": {},
            "chi_square": {},
        }
        for n in range(2, MAX_OPTIONS + 1):
            counts = self.by_n[n, :n]
            total = int(counts.sum())
            if total == 0:
                continue
            out["by_n_options"][str(n)] = {LETTERS[i]: int(counts[i]) for i in range(n)}
            stat, p = chi_square(counts.tolist())
            out["chi_square"][str(n)] = {"n_items": total, "statistic": round(stat, 6),
                                         "p_value": round(p, 6)}
        return out
