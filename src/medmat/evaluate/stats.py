"""The one Wilson interval and the one chi-square test in medmat, both scipy's.

Accuracy intervals (:mod:`.accuracy`), the answer-letter bias test (:mod:`.bias`) and the
letter balance of built items (:mod:`medmat.qa.balance`) all call these, so a number printed in
one place is computed exactly as the same number elsewhere.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

from scipy.stats import binomtest, chisquare

from medmat.errors import MedmatError
from medmat.evaluate._checks import check_confidence


def wilson_interval(k: int, n: int, confidence: float = 0.95, *,
                    what: str = "accuracy") -> tuple[float, float]:
    """Wilson score interval for ``k`` successes out of ``n`` trials (scipy's ``binomtest``).

    ``center = (k + z²/2) / (n + z²)``, ``half = z / (n + z²) * sqrt(k(n-k)/n + z²/4)``,
    with ``z`` the two-sided normal quantile of ``confidence`` (1.959964 for 0.95); the bound
    is exactly 0 at ``k == 0`` and exactly 1 at ``k == n``.
    ``n == 0`` raises: an arm with no test items has no accuracy, and (0, 1) would hide that.
    ``what`` names the arm/target in that message.
    """
    confidence = check_confidence(confidence)
    try:
        if isinstance(k, bool) or isinstance(n, bool):
            raise TypeError
        k, n = operator.index(k), operator.index(n)
    except TypeError:
        raise MedmatError(f"{what}: k={k!r}, n={n!r} must be integer counts") from None
    if n == 0:
        raise MedmatError(f"{what}: no test items (n=0), so there is no accuracy to report; "
                          "check that the target has test items")
    if n < 0 or not 0 <= k <= n:
        raise MedmatError(f"{what}: need 0 <= k <= n, got k={k}, n={n}")
    ci = binomtest(k, n).proportion_ci(confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def chi_square(observed: Sequence[float],
               expected: Sequence[float] | None = None) -> tuple[float, float]:
    """Pearson's chi-square goodness of fit: ``(statistic, p_value)`` on ``len - 1`` dof.

    ``expected`` defaults to uniform; when given it must sum to the observed total.
    """
    stat, p = chisquare(observed, expected)
    return float(stat), float(p)
