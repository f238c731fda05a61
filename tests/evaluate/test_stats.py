"""The one Wilson interval and chi-square test (scipy's) agree with the textbook formulas."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from medmat.evaluate.stats import chi_square, wilson_interval


def closed_form_wilson(k: int, n: int, confidence: float) -> tuple[float, float]:
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    center = (k + z * z / 2) / (n + z * z)
    half = z / (n + z * z) * math.sqrt(k * (n - k) / n + z * z / 4)
    return center - half, center + half


@pytest.mark.parametrize("confidence", [0.5, 0.9, 0.95, 0.99])
@pytest.mark.parametrize("n", [1, 2, 7, 30, 1000])
def test_wilson_matches_the_closed_form_including_k_0_and_k_n(n, confidence):
    for k in sorted({0, 1, n // 3, n - 1, n} & set(range(n + 1))):
        low, high = wilson_interval(k, n, confidence)
        assert (low, high) == pytest.approx(closed_form_wilson(k, n, confidence), abs=1e-12)
        assert 0.0 <= low <= k / n <= high <= 1.0
    # the bounds at the edges are exact, not 1e-17 away (reports print them)
    assert wilson_interval(0, n, confidence)[0] == 0.0
    assert wilson_interval(n, n, confidence)[1] == 1.0


def test_chi_square_matches_the_hand_formula():
    observed, expected = [30, 10, 12, 8], [15.0, 15.0, 15.0, 15.0]
    stat = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    assert stat == pytest.approx(20.533333, abs=1e-6)
    assert chi_square(observed, expected) == pytest.approx((stat, 0.0001316), abs=1e-7)
    assert chi_square(observed) == pytest.approx(chi_square(observed, expected), rel=1e-12)
    # 3 dof: p = P(chi2_3 > 7.814728) = 0.05, the textbook critical value
    a = math.sqrt(7.814728 * 15 / 2)  # (a² + a²) / 15 = 7.814728
    assert chi_square([15 + a, 15 - a, 15, 15]) == pytest.approx((7.814728, 0.05), abs=1e-6)
