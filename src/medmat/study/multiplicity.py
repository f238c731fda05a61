"""Many combinations tested at once: one-sided bootstrap p-values, Holm and Benjamini-Hochberg.

A study tests the related-minus-unrelated gain of every combination; at a 95% interval each,
about 1 in 40 null combinations shows a gain by chance, so "k of n succeed" alone overstates
what a large map shows. The study-level verdict controls that:

* **p-value** (one-sided, H1: gain > 0) from the same two-level bootstrap that gives the
  interval. The experiment stores the two-sided bootstrap guide ``p2`` of its contrast
  (:func:`medmat.evaluate.seed_diff`: ``2 * share(replicates <= 0)`` for a positive gain,
  ``2 * share(replicates >= 0)`` for a negative one, 1 for a zero gain, clipped at 1). The share
  of replicates at or below 0 is then ``p2 / 2`` for a positive gain, and at least
  ``1 - p2 / 2`` otherwise; with ``B`` replicates the p-value is ``(B * share + 1) / (B + 1)``
  (never 0, the usual bootstrap correction). A gain whose ``p2`` was clipped at 1 gets ``p = 1``.
  Every one-sided p-value at or above 0.5 is above any threshold used here, so these bounds
  never change a decision.
* **Holm** (family-wise error rate <= alpha): adjusted ``p_(i) = max_{j <= i} min(1, (m - j + 1)
  p_(j))`` over the ascending p-values; a combination is a gain when its adjusted p <= alpha.
* **Benjamini-Hochberg** (false discovery rate <= alpha for independent or positively dependent
  tests): adjusted ``q_(i) = min_{j >= i} min(1, m p_(j) / j)``; a gain when q <= alpha.
"""

from __future__ import annotations

from collections.abc import Sequence

from medmat.errors import MedmatError

ALPHA = 0.05
ONE_SIDED_RULE = (
    "one-sided p of gain > 0 from the interval's two-level bootstrap: (B * share of replicates "
    "<= 0 + 1) / (B + 1)"
)
HOLM_RULE = "Holm step-down, family-wise error rate <= {alpha} over the {m} combinations"
BH_RULE = "Benjamini-Hochberg step-up, false discovery rate <= {alpha} over the {m} combinations"


def one_sided_p(diff: float | None, p_two_sided: float | None, n_boot: int | None) -> float | None:
    """The one-sided bootstrap p-value of ``gain > 0`` (module docstring); None if unknown."""
    if diff is None or p_two_sided is None or not n_boot:
        return None
    if not 0.0 <= p_two_sided <= 1.0 or n_boot < 1:
        raise MedmatError(f"two-sided p {p_two_sided} with {n_boot} replicates: not a bootstrap "
                          "p-value; rerun the experiment")  # fmt: skip
    if diff > 0:
        share = 1.0 if p_two_sided >= 1.0 else p_two_sided / 2
    else:
        share = max(0.5, 1.0 - p_two_sided / 2)
    return (n_boot * share + 1) / (n_boot + 1)


def _check(p_values: Sequence[float]) -> list[float]:
    ps = [float(p) for p in p_values]
    bad = [p for p in ps if not 0.0 <= p <= 1.0]
    if bad:
        raise MedmatError(f"p-values must lie in [0, 1], got {bad[:3]}")
    return ps


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the input order."""
    ps = _check(p_values)
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        out[i] = running
    return out


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order."""
    ps = _check(p_values)
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    out = [0.0] * m
    running = 1.0
    for rank in range(m - 1, -1, -1):
        i = order[rank]
        running = min(running, min(1.0, m * ps[i] / (rank + 1)))
        out[i] = running
    return out
