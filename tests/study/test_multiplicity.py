"""Holm and Benjamini-Hochberg against hand-computed examples; corrected verdicts."""

from __future__ import annotations

import pytest

from medmat.errors import MedmatError
from medmat.evaluate.results import Cell
from medmat.study.aggregate import NOT_CORRECTED, with_multiplicity
from medmat.study.multiplicity import benjamini_hochberg, holm, one_sided_p
from medmat.study.results import CombinationResult, Estimate

P = [0.01, 0.04, 0.03, 0.005]


def test_holm_by_hand():
    # ascending 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04; running max
    assert holm(P) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.2, 0.9]) == pytest.approx([0.4, 0.9])
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([]) == []


def test_bh_by_hand():
    # ascending p * 4 / rank = 0.02, 0.02, 0.04, 0.04; running min from the largest
    assert benjamini_hochberg(P) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert benjamini_hochberg([0.01, 0.02, 0.5]) == pytest.approx([0.03, 0.03, 0.5])
    # at 0.05 BH keeps all four, Holm only the two smallest
    assert sum(q <= 0.05 for q in benjamini_hochberg(P)) == 4
    assert sum(q <= 0.05 for q in holm(P)) == 2


def test_bh_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    ps = [0.001, 0.2, 0.013, 0.04, 0.5, 0.011, 0.9, 0.0402]
    assert benjamini_hochberg(ps) == pytest.approx(list(stats.false_discovery_control(ps)))


def test_p_values_out_of_range_are_refused():
    with pytest.raises(MedmatError, match=r"\[0, 1\]"):
        holm([0.1, 1.2])


def test_one_sided_p_from_the_two_sided_bootstrap_guide():
    b = 2000
    # gain > 0, 1% of replicates at or below 0 (two-sided guide 0.02)
    assert one_sided_p(0.1, 0.02, b) == pytest.approx((b * 0.01 + 1) / (b + 1))
    assert one_sided_p(0.1, 0.0, b) == pytest.approx(1 / (b + 1))  # never 0
    assert one_sided_p(0.1, 1.0, b) == pytest.approx(1.0)  # clipped guide: no evidence at all
    assert one_sided_p(-0.1, 0.3, b) == pytest.approx((b * 0.85 + 1) / (b + 1))
    assert one_sided_p(0.0, 1.0, b) == pytest.approx((b * 0.5 + 1) / (b + 1))
    assert one_sided_p(None, 0.3, b) is None


def combo(name: str, p: float, verdict: str = "CG gain") -> CombinationResult:
    e = Estimate(value=0.5, ci95=(0.4, 0.6))
    return CombinationResult(
        experiment=name, target=Cell(modality="X-ray", area="Brain", task="Lesion type",
                                     subset="xray-brain-lesion"),
        direction="fixed_task", fixed="task", source_a="a", source_a_mat="", source_b="b",
        source_b_mat="", task_match="exact", primary=True, untrained=e, unrelated=e, related=e,
        gain=Estimate(value=0.1, ci95=(0.01, 0.2)), n_items=100, n_seeds=3, ci_method="",
        succeeds=True, verdict=verdict, p_value=p)  # fmt: skip


def test_corrected_verdicts_come_from_the_adjusted_p_values():
    flagged = "uninformative: related answers 'Nodule' on 100% of items"
    combos = [combo("a", 0.01), combo("b", 0.04), combo("c", 0.03), combo("d", 0.005, flagged)]
    out, summary = with_multiplicity(combos)
    assert [c.p_holm for c in out] == pytest.approx(holm(P))
    assert [c.p_bh for c in out] == pytest.approx(benjamini_hochberg(P))
    # Holm: a (0.03) gains, b and c (0.06) do not; d has the smallest p but a flagged arm
    assert [c.verdict_holm for c in out] == ["CG gain", NOT_CORRECTED, NOT_CORRECTED, flagged]
    assert [c.verdict_bh for c in out] == ["CG gain", "CG gain", "CG gain", flagged]
    assert (summary.family, summary.n_gain_holm, summary.n_gain_bh) == (4, 1, 3)
    assert "Holm" in summary.holm_rule and "4 combinations" in summary.bh_rule


def test_a_combination_without_p_value_is_never_a_gain_nor_in_the_family():
    out, summary = with_multiplicity([combo("a", 0.001), combo("b", None)])  # type: ignore[arg-type]
    assert summary.family == 1 and out[0].verdict_holm == "CG gain"
    assert out[1].p_holm is None and out[1].verdict_holm.startswith("uninformative")
