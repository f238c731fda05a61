"""Benchmark: taxonomy normalisation speed (folded-key index and memo vs. a linear scan).

Every records table row is normalised (modality, area, task), so lookups must stay cheap at
millions of rows. The baseline is the obvious implementation measured in the same run: fold the
input, then scan every term's spellings. Run: .venv/bin/python benchmarks/taxonomy_normalize.py
"""

from __future__ import annotations

import time

from medmat.taxonomy import fold, load_taxonomy

INPUTS = [
    ("modality", "X-Ray"), ("modality", "US"), ("modality", "Der"), ("modality", "Fundus"),
    ("area", "Teeth"), ("area", "Lung"), ("area", "Bones"), ("task", "Multi-label"),
    ("task", "COVID19, Classification Dataset."), ("task", "Blindness Level Identification 0~4"),
]  # fmt: skip


def linear_scan(tax, kind: str, text: str) -> str:
    key = fold(text)
    for term in tax.terms[kind]:
        if key in {fold(x) for x in (term.name, term.code, *term.synonyms)}:
            return term.name
    return tax.normalize(kind, text)  # free-text task rules: same path for both


def rate(fn, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        for kind, text in INPUTS:
            fn(kind, text)
    return repeat * len(INPUTS) / (time.perf_counter() - start)


def main() -> None:
    tax = load_taxonomy()
    for kind, text in INPUTS:  # both must agree before timing means anything
        assert linear_scan(tax, kind, text) == tax.normalize(kind, text)
    repeat = 2000
    base = rate(lambda k, t: linear_scan(tax, k, t), repeat)
    index = rate(lambda k, t: tax.lookup(k, t).term.name, repeat)
    memo = rate(tax.normalize, repeat)
    print(f"{'method':<34}{'lookups/s':>14}{'speed-up':>10}")
    print(f"{'linear scan (baseline)':<34}{base:>14,.0f}{1.0:>10.1f}")
    print(f"{'Taxonomy.lookup (folded index)':<34}{index:>14,.0f}{index / base:>10.1f}")
    print(f"{'Taxonomy.normalize (index + memo)':<34}{memo:>14,.0f}{memo / base:>10.1f}")


if __name__ == "__main__":
    main()
