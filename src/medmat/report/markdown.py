"""report.md: design, run facts, gain verdicts, per-target tables, answer-quality notes, plots."""

from __future__ import annotations

import json

from medmat.report.bias import DEFAULT_THRESHOLD, describe_gap, letter_gap
from medmat.report.box_figure import BOXES_PNG
from medmat.report.box_tables import (
    GROUNDING_NOTE,
    baseline_line,
    box_arm_table_md,
    box_contrasts_table_md,
)
from medmat.report.schema import Report, Target
from medmat.report.tables import (
    UNINFORMATIVE,
    VERDICT_GAIN,
    arm_table_md,
    contrasts_table_md,
    gain_verdict,
    gains_table_md,
    pct,
    target_label,
    verdicts_table_md,
)

ACCURACY_PNG = "accuracy.png"
LATTICE_PNG = "lattice.png"

DESIGN = (
    "Each target is a MAT combination (modality, anatomical area, task) that no arm except "
    "`target_trained` ever trains on; every arm is scored on the same test items of the target. "
    "**related** trains on subsets that together cover the target's modality, area and task but "
    "never the target combination itself. **unrelated** trains on the same amount of data drawn "
    "from subsets that share no element (no modality, no area, no task) with the target. "
    "**target_trained** trains on the target's own training split: an upper bound. "
    "**untrained** is the model before any training: the chance baseline. Other arms, when "
    "present, are ablations named by the experiment config. Compositional generalization (CG) "
    "shows as related beating unrelated; the gain's 95% CI decides the verdict: "
    '"CG gain" when it lies wholly above 0, "negative" when wholly below 0, "no evidence" when '
    "it includes 0. Ablation arms separate where a gain comes from: `only_modality`, "
    "`only_area`, `only_task` train on subsets sharing exactly that element with the target, "
    "`component_<subset>` on one related subset alone. Related beating its best single "
    "component is *recombination*; related beating unrelated but not its best component is "
    "plain transfer from one source. A verdict that involves a degenerate arm (one answer text "
    "on at least 95% of items, or the same answers with the images shuffled among the items) or "
    'a target that was not learnable is "uninformative", whatever its interval says.'
)


def _data_line(report: Report) -> str:
    lab = report.lab
    if lab is None:
        return "Data: a real records table (not the synthetic lab)."
    facts = f" (seed {lab.seed}, size {lab.size})"
    if report.is_null:
        return (
            f"Data: the synthetic MAT lab in **null mode**{facts}, the negative control: every "
            "MAT combination draws its own, unshared finding appearances, so nothing learned on "
            "the related subsets can carry over to the target."
        )
    return (
        f"Data: the synthetic MAT lab{facts}: each finding looks the same in every modality "
        "and area, so elements learned in one combination can transfer to another."
    )


NULL_BANNER = (
    "> **Negative control (null lab).** In this world related training carries nothing the "
    "target can use, so the expected result is *no* CG gain: every related − unrelated 95% CI "
    "should include 0 (about 1 target in 20 may miss by chance). A clear gain here means "
    "leakage or a bug, not compositional generalization."
)


def _in_words(report: Report) -> list[str]:
    """Which targets show recombination, which plain transfer, which nothing (sentences)."""
    groups: dict[str, list[str]] = {}
    for t in report.targets:
        gain = gain_verdict(t) or ""
        comp = next((v for v in t.verdicts if v.question.startswith("related vs its best")),
                    None)
        name = f"{target_label(t)}"
        if gain.startswith(UNINFORMATIVE):
            key = "uninformative (degenerate arm or target not learnable; see its flags)"
        elif gain != VERDICT_GAIN:
            key = "no CG gain over unrelated"
        elif comp is None:
            key = "a CG gain (no component arms run: recombination not tested)"
        elif comp.verdict == "recombination":
            key = "recombination: related beats unrelated and its best single component"
        else:
            best = comp.question.removeprefix("related vs its best single component ")
            key = "plain transfer: related beats unrelated but not its best single component"
            name += f" {best}"
        groups.setdefault(key, []).append(name)
    return [f"- {', '.join(names)}: {key}." for key, names in groups.items()]


def _expectation(report: Report) -> list[str]:
    """Paragraphs after the gains table: the count of gains, in words, and what was expected."""
    verdicts = [gain_verdict(t) or "" for t in report.targets if t.gain is not None]
    gains = verdicts.count(VERDICT_GAIN)
    negatives = sum(v.startswith("negative") for v in verdicts)
    unread = sum(v.startswith(UNINFORMATIVE) for v in verdicts)
    line = f"CG gain on {gains} of {len(verdicts)} targets"
    line += f"; negative difference on {negatives}" if negatives else ""
    line += f"; uninformative on {unread}" if unread else ""
    out = [line + ".", ""]
    if any(t.verdicts for t in report.targets):
        out += ["In words:", "", *_in_words(report), ""]
    if report.is_null:
        out += ["Expected in the null lab: no CG gain on any target.", ""]
        if gains:
            out += [
                "**Warning:** CG gain in the negative control. Check for leakage between the "
                "training and test data and for bugs in the arm construction before trusting "
                "the gains of the non-null lab.",
                "",
            ]
    elif report.lab is not None:
        out += ["Expected in this (non-null) lab: related above unrelated on most targets.", ""]
    return out


def _grounding_section(t: Target) -> list[str]:
    """A grounding target: box metrics, verdicts on cIoU, paired box differences."""
    out = [f"### {target_label(t)} (`{t.cell.subset}`): grounding", ""]
    n = max(a.n for a in t.ordered_arms)
    out += [f"{n} test items. {baseline_line(t)}", "", box_arm_table_md(t)]
    verdicts = verdicts_table_md(t)
    if verdicts:
        out += ["Verdicts (cIoU):", "", verdicts]
    notes = [f"- {t.learnability.reason}."] if t.learnability is not None else []
    notes += [f"- {v.question}: {v.verdict}." for v in t.verdicts
              if v.verdict.startswith(UNINFORMATIVE)]
    if notes:
        out += ["Learnability:", "", *notes, ""]
    contrasts = box_contrasts_table_md(t)
    if contrasts:
        out += ["Paired differences:", "", contrasts]
    return out


def _target_section(t: Target) -> list[str]:
    if t.is_grounding:
        return _grounding_section(t)
    out = [f"### {target_label(t)} (`{t.cell.subset}`)", ""]
    facts = [f"{max(a.n for a in t.ordered_arms)} test items"]
    if t.chance is not None:
        facts.append(f"chance {pct(t.chance)}")
    out += [", ".join(facts) + ".", ""]
    out.append(arm_table_md(t))
    methods = sorted({a.ci_method for a in t.ordered_arms if a.ci_method})
    if methods:
        out += ["Intervals: " + "; ".join(methods) + ".", ""]
    verdicts = verdicts_table_md(t)
    if verdicts:
        out += ["Verdicts:", "", verdicts]
    notes = [f"- `{a.name}`: {f.reason}." for a in t.ordered_arms for f in a.flagged]
    if t.learnability is not None:
        notes.append(f"- {t.learnability.reason}.")
    notes += [f"- {v.question}: {v.verdict}." for v in t.verdicts
              if v.verdict.startswith(UNINFORMATIVE)]
    if notes:
        out += ["Flags and learnability:", "", *notes, ""]
    contrasts = contrasts_table_md(t)
    if contrasts:
        out += ["Other contrasts:", "", contrasts]
    return out


def _quality_notes(report: Report, threshold: float) -> list[str]:
    flagged, unread, no_answer = [], [], []
    for t in report.targets:
        if t.is_grounding:  # boxes: misses are in the target's table, no letters to compare
            continue
        for arm in t.ordered_arms:
            where = f"{target_label(t)}, arm `{arm.name}`"
            if arm.letter_bias is not None:
                gap = letter_gap(arm.letter_bias)
                if gap is None:
                    unread.append(where)
                elif gap.gap > threshold + 1e-9:  # 0.15000000000000002 is not "more"
                    flagged.append(f"- {where}: {describe_gap(gap)}.")
            if arm.no_answer:
                no_answer.append(
                    f"- {where}: {arm.no_answer} of {arm.n} answers had no option letter "
                    "(scored as wrong)."
                )
    out = []
    limit = f"{100 * threshold:.0f} points"
    if flagged:
        out += [
            f"Arms whose predicted letter shares differ from the gold shares by more than {limit} "
            "(a letter preference: part of the accuracy may come from guessing one letter):",
            "",
            *flagged,
        ]
    else:
        out.append(f"No arm's predicted letter shares differ from the gold shares by more than "
                   f"{limit}.")  # fmt: skip
    if unread:
        out += ["", "Letter bias not in a form this report reads: " + "; ".join(unread) + "."]
    out += ["", *no_answer] if no_answer else ["", "Every answer named an option letter."]
    return out


def build_markdown(report: Report, letter_bias_threshold: float = DEFAULT_THRESHOLD, *,
                   box_figure: bool = False) -> str:
    """The full text of report.md (deterministic: depends on ``report`` and ``box_figure``,
    whether boxes.png is beside it)."""
    title = "# medmat compositional-generalization experiment"
    if report.is_null:
        title += " (negative control)"
    out = [title, ""]
    if report.is_null:
        out += [NULL_BANNER, ""]
    out += ["## Design", "", DESIGN, "", "## Run", ""]
    out.append(f"- {_data_line(report)}")
    if report.backend:
        out.append(f"- Backend: `{report.backend}`.")
    if report.seeds:
        label = "Seed" if len(report.seeds) == 1 else "Seeds"
        out.append(f"- {label}: {', '.join(str(s) for s in report.seeds)}.")
    out.append(f"- Targets: {len(report.targets)}; arms: "
               f"{', '.join(f'`{a}`' for a in report.arm_names)}.")  # fmt: skip
    out += ["", "## Summary: related − unrelated", "", gains_table_md(report)]
    out += _expectation(report)
    out += [f"![accuracy per arm and target]({ACCURACY_PNG})", ""]
    if any(t.is_grounding for t in report.targets):
        out += ["## Grounding", "", GROUNDING_NOTE, ""]
        if box_figure:
            out += ["Example test images: true box dashed black, each main arm's box (first "
                    "training seed) in its colour.", "",
                    f"![true and predicted boxes]({BOXES_PNG})", ""]  # fmt: skip
    out += ["## Targets", ""]
    for t in report.targets:
        out += _target_section(t)
    out += ["## Answer quality", "", *_quality_notes(report, letter_bias_threshold), ""]
    out += ["## Lattice", "",
            "Target cell (red border, star), related training cells (green), unrelated training "
            "cells (blue), other available subsets (grey); slot text is the task code.", "",
            f"![MAT lattice per target]({LATTICE_PNG})", ""]  # fmt: skip
    if report.config:
        config = json.dumps(report.config, indent=2, sort_keys=True, ensure_ascii=False,
                            default=str)  # fmt: skip
        out += ["## Configuration", "", "```json", config, "```", ""]
    return "\n".join(out).rstrip("\n") + "\n"
