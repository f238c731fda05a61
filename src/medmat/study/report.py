"""The study's report: ``report.md`` (tables, counts, multiplicity rules) and ``gains.png``.

Both are pure functions of :class:`~medmat.study.results.StudyResult` (deterministic bytes: the
PNG carries no date or software metadata), so a rerun of a finished study writes identical files.
"""

from __future__ import annotations

from medmat.study.planner import DIRECTIONS
from medmat.study.results import AblationTarget, CombinationResult, Estimate, StudyResult

MARKERS = {"fixed_modality": "o", "fixed_area": "s", "fixed_task": "^",
           "modality_area_pair": "D"}  # fmt: skip
COLOURS = {"fixed_modality": "#1f77b4", "fixed_area": "#ff7f0e", "fixed_task": "#2ca02c",
           "modality_area_pair": "#9467bd"}  # fmt: skip
SOURCE_WORDS = {"lab": "the synthetic MAT lab", "records": "a records table",
                "catalog": "the Med-MAT release (planned from the catalog)"}  # fmt: skip


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _ci(ci: tuple[float, float] | None) -> str:
    return "" if ci is None else f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"


def _acc(e: Estimate | None) -> str:
    if e is None or e.value is None:
        return "-"
    lo_hi = "" if e.ci95 is None else f" [{100 * e.ci95[0]:.1f}, {100 * e.ci95[1]:.1f}]"
    return _pct(e.value) + lo_hi


def _diff(e: Estimate | None) -> str:
    if e is None or e.value is None:
        return "-"
    return f"{100 * e.value:+.1f}" + _ci(e.ci95)


def _p(p: float | None) -> str:
    return "-" if p is None else f"{p:.4f}"


def _short(verdict: str) -> str:
    """The verdict's words without its reasons (the flags column and the list say why)."""
    return verdict.split(":", 1)[0]


def _cell(c: CombinationResult) -> str:
    t = c.target
    return f"{t.subset} ({t.modality} / {t.area} / {t.task})"


def _b(c: CombinationResult) -> str:
    """Source B, and source C of a three-source combination (the task's supplier)."""
    return c.source_b + (f" + C: {c.source_c}" if c.source_c else "")


def _header(result: StudyResult) -> list[str]:
    where = SOURCE_WORDS.get(result.source, result.source)
    if result.lab is not None:
        where += f" (lab seed {result.lab.seed}, {'NULL lab' if result.lab.null else 'default'})"
    lines = [f"# Study `{result.design}` on {where}", "",
             f"- experiments: {len(result.experiments)}; backend `{result.backend}`; training "
             f"seeds {list(result.seeds)}"]  # fmt: skip
    if result.lab is not None and result.lab.null:
        lines.append("- **negative control**: in the null lab nothing is shared between MAT "
                     "combinations, so every gain here is a false positive")  # fmt: skip
    return lines


def _pairwise(result: StudyResult) -> list[str]:
    n, m = result.n_combinations, result.multiplicity
    lines = [f"- **{result.n_succeed} of {n} combinations succeed**: {result.success_rule}"]
    if m is not None:
        lines += [
            f"- **multiplicity-controlled gains: {m.n_gain_holm} of {n} (Holm), {m.n_gain_bh} of "
            f"{n} (Benjamini-Hochberg)** at alpha {m.alpha}",
            f"  - p-value: {m.p_rule}",
            f"  - Holm: {m.holm_rule}",
            f"  - Benjamini-Hochberg: {m.bh_rule}",
            "  - a combination whose experiment verdict is uninformative (a flagged arm under "
            "test, a zero-width interval) counts in the family but is never a gain",
        ]  # fmt: skip
    lines += ["", "## Combinations", "",
              "Accuracies are means over training seeds with two-level bootstrap intervals "
              "(seeds, then test items); gain = related - unrelated in points, paired on the "
              "same test items.", "",
              "| target | source A | source B | direction | untrained | unrelated | related | "
              "gain [95% CI] | p (one-sided) | Holm (adjusted p) | BH (adjusted p) | verdict | "
              "flags |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for c in result.combinations:
        lines.append(
            f"| {_cell(c)} | {c.source_a} | {_b(c)} | {c.direction} | {_acc(c.untrained)} "
            f"| {_acc(c.unrelated)} | {_acc(c.related)} | {_diff(c.gain)} | {_p(c.p_value)} | "
            f"{_p(c.p_holm)} {_short(c.verdict_holm)} | {_p(c.p_bh)} {_short(c.verdict_bh)} | "
            f"{_short(c.verdict)} | {', '.join(f.split(':', 1)[0] for f in c.flags) or '-'} |")
    flagged = [c for c in result.combinations if c.flags]
    if flagged:
        lines += ["", "Flags (see each experiment's report for which ones void its verdict):", ""]
        lines += [f"- `{c.experiment}`: " + "; ".join(f.split(": ", 1)[1] for f in c.flags)
                  for c in flagged]  # fmt: skip
    lines += ["", "![gains](gains.png)", "",
              "Each experiment's own report is in `runs/NAME/report.md`."]  # fmt: skip
    return lines


def _ablation(target: AblationTarget) -> list[str]:
    t = target.target
    lines = ["", f"## {t.subset} ({t.modality} / {t.area} / {t.task})", "",
             "| arm | training items | accuracy [95% CI] | - all_related [95% CI] | "
             "- untrained [95% CI] | flags |", "|---|---|---|---|---|---|"]  # fmt: skip
    for a in target.arms:
        lines.append(f"| {a.name} | {a.n_train} | {_acc(a.accuracy)} | "
                     f"{_diff(a.minus_all_related)} | {_diff(a.minus_untrained)} | "
                     f"{'; '.join(a.flags) or '-'} |")  # fmt: skip
    return lines


def report_markdown(result: StudyResult) -> str:
    lines = _header(result)
    from medmat.study import designs

    mod = designs.module(result.design)
    if result.design in ("pairwise", "three-source"):
        lines += _pairwise(result)
    elif mod is not None:
        lines += mod.markdown(result)
    elif result.design == "cls-det":
        from medmat.study.clsdet_results import clsdet_markdown

        lines += clsdet_markdown(result)
    else:
        lines += ["- one table per target: each arm's accuracy and its paired difference (points) "
                  "to `all_related` and to `untrained`"]  # fmt: skip
        for target in result.ablation:
            lines += _ablation(target)
    return "\n".join(lines) + "\n"


def gains_png(result: StudyResult) -> bytes:
    """Forest plot: one row per combination, the gain with its 95% interval, by direction."""
    from matplotlib.lines import Line2D

    from medmat.report.plots import new_figure, plot_style, png_bytes

    combos = list(result.combinations)
    with plot_style():
        fig = new_figure(9.5, 1.6 + 0.32 * max(len(combos), 1))
        ax = fig.add_subplot(1, 1, 1)
        for y, c in enumerate(reversed(combos)):
            if c.gain.value is None:
                continue
            colour = COLOURS.get(c.direction, "#555")
            if c.gain.ci95 is not None:
                lo, hi = (100 * v for v in c.gain.ci95)
                ax.plot([lo, hi], [y, y], color=colour, linewidth=1.6)
            ax.plot([100 * c.gain.value], [y], marker=MARKERS.get(c.direction, "o"),
                    color=colour, markersize=6,
                    markerfacecolor=colour if c.verdict_holm == "CG gain" else "white")
        ax.axvline(0.0, color="#333", linewidth=0.8, linestyle="--")
        ax.set_yticks(range(len(combos)))
        ax.set_yticklabels([f"{c.target.subset} <- {c.source_a} + {_b(c).replace(' C:', '')}"
                            for c in reversed(combos)], fontsize=7)  # fmt: skip
        ax.set_xlabel("related - unrelated accuracy (points), seed-level 95% interval")
        m = result.multiplicity
        counts = "" if m is None else f"; Holm gains {m.n_gain_holm}, BH gains {m.n_gain_bh}"
        ax.set_title(f"{result.n_succeed} of {len(combos)} succeed (informative, interval above 0)"
                     f"{counts}",
                     fontsize=9)  # fmt: skip
        used = [d for d in DIRECTIONS if any(c.direction == d for c in combos)]
        handles = [Line2D([], [], color=COLOURS[d], marker=MARKERS[d], label=d) for d in used]
        handles.append(Line2D([], [], color="#555", marker="o", markerfacecolor="white",
                              linestyle="", label="open: no Holm-corrected gain"))  # fmt: skip
        ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.tight_layout()
        return png_bytes(fig)
