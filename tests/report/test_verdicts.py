"""The report shows the typed verdicts, flags, per-seed values and the interval method."""

from __future__ import annotations

from medmat.report import build_markdown, format_table
from medmat.report.schema import parse_metrics

METHOD = "two-level bootstrap over 3 training seeds, then test items"
CONSTANT = ("unrelated answers 'Linear lesion' on 100.0% of items, at or above the 95.0% "
            "constant-answer threshold")


def with_verdicts(m: dict) -> dict:
    t1, t2 = m["targets"]
    m["seeds"] = [0, 1, 2]
    for t in (t1, t2):
        for arm in t["arms"].values():
            arm["ci_method"] = METHOD
            arm["flags"] = [{"check": "constant_answer", "flagged": False, "share": 0.4,
                             "threshold": 0.95, "reason": "fine"}]
    # X-ray·Brain: beats unrelated and its best component (recombination)
    t1["arms"]["component_ct-brain-lesion"] = {**t1["arms"]["related"],
                                               "name": "component_ct-brain-lesion",
                                               "accuracy": 0.45}
    t1["diffs"]["related_minus_component_ct-brain-lesion"] = {
        "name": "related_minus_component_ct-brain-lesion", "diff": 0.17, "ci95": [0.08, 0.26],
        "per_seed": [0.15, 0.17, 0.19], "method": METHOD}
    t1["diffs"]["related_minus_unrelated"]["per_seed"] = [0.35, 0.37, 0.39]
    t1["verdicts"] = [
        {"question": "related vs unrelated", "contrast": "related_minus_unrelated",
         "verdict": "CG gain"},
        {"question": "related vs its best single component (component_ct-brain-lesion)",
         "contrast": "related_minus_component_ct-brain-lesion", "verdict": "recombination"}]
    t1["learnable"] = True
    t1["learnability"] = {"check": "not_learnable", "flagged": False, "share": 0.87,
                          "threshold": 0.25, "reason": "target_trained 91.0% is above chance"}
    # CT·Bones: unrelated answers one text: the gain verdict is uninformative
    t2["arms"]["unrelated"]["flags"] = [{"check": "constant_answer", "flagged": True,
                                         "share": 1.0, "threshold": 0.95, "reason": CONSTANT}]
    t2["verdicts"] = [{"question": "related vs unrelated", "contrast": "related_minus_unrelated",
                       "verdict": f"uninformative: {CONSTANT}"}]
    return m


def test_verdicts_tables_flags_and_words(make_metrics):
    text = build_markdown(parse_metrics(with_verdicts(make_metrics())))
    assert ("| X-ray · Brain · Lesion type (`xray-brain-lesion`) | +37.0 | [+29.0, +45.0] | "
            "<0.001 | CG gain |") in text
    assert ("| CT · Bones · Fracture (`ct-bones-fracture`) | +2.5 | [−7.0, +12.0] | 0.61 | "
            "uninformative |") in text
    assert "CG gain on 1 of 2 targets; uninformative on 1." in text
    assert ("- X-ray · Brain · Lesion type: recombination: related beats unrelated and its best "
            "single component.") in text
    assert "- CT · Bones · Fracture: uninformative" in text
    assert ("| related vs its best single component (component_ct-brain-lesion) | +17.0 "
            "[+8.0, +26.0] | +15.0, +17.0, +19.0 | recombination |") in text
    assert f"Intervals: {METHOD}." in text
    # the flagged arm's reason is printed, and the flags column names the check and its share
    assert f"- `unrelated`: {CONSTANT}." in text
    assert "| constant_answer (100%) |" in text
    assert "uninformative" in format_table(parse_metrics(with_verdicts(make_metrics())))


def test_zero_width_interval_is_never_printed_bare(make_metrics):
    m = with_verdicts(make_metrics())
    m["targets"][1]["arms"]["unrelated"]["ci95"] = [0.5, 0.5]
    m["targets"][1]["diffs"]["unrelated_minus_untrained"] = {
        "name": "unrelated_minus_untrained", "diff": 0.0, "ci95": [0.0, 0.0]}
    text = build_markdown(parse_metrics(m))
    assert "[50.0, 50.0] zero width" in text
    assert "[0.0, 0.0] zero width: see flags" in text


def test_verdict_naming_a_missing_contrast_is_refused(make_metrics):
    import pytest

    from medmat.errors import MedmatError

    m = with_verdicts(make_metrics())
    m["targets"][0]["verdicts"][0]["contrast"] = "related_minus_nothing"
    with pytest.raises(MedmatError, match="names no contrast"):
        parse_metrics(m)
