"""Tables of an experiment: markdown for report.md, plain markdown and rich for the CLI.

Accuracies are printed as percentages with one decimal and gains as signed percentage points,
so the same number reads the same way in the report, the terminal and the plots.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medmat.report.schema import Arm, Report, Target, parse_metrics

DASH = "—"
MINUS = "−"  # typographic minus, as in "related − unrelated"

VERDICT_GAIN = "CG gain"
VERDICT_NONE = "no evidence"
VERDICT_NEGATIVE = "negative"


def verdict(ci95: Sequence[float] | None) -> str:
    """"CG gain" when the whole 95% CI of related − unrelated is above 0, "negative" when it is
    below 0, "no evidence" when it includes 0 (or is missing)."""
    if ci95 is None:
        return VERDICT_NONE
    lo, hi = ci95
    if lo > 0:
        return VERDICT_GAIN
    if hi < 0:
        return VERDICT_NEGATIVE
    return VERDICT_NONE


UNINFORMATIVE = "uninformative"


def short_verdict(text: str) -> str:
    """A verdict for a table cell: an uninformative verdict's reasons are listed elsewhere."""
    return UNINFORMATIVE if text.startswith(UNINFORMATIVE) else text


def gain_verdict(target: Target) -> str | None:
    """The related − unrelated verdict: the typed one (which respects the degenerate-arm and
    learnability flags) when the results carry it, else read from the interval alone."""
    for v in target.verdicts:
        if v.contrast == "related_minus_unrelated":
            return v.verdict
    return None if target.gain is None else verdict(target.gain.ci95)


def zero_width(ci: tuple[float, float] | None) -> bool:
    return ci is not None and ci[1] - ci[0] <= 1e-12


def pct(x: float | None) -> str:
    return DASH if x is None else f"{100 * x:.1f}%"


def ci_pct(ci: tuple[float, float] | None) -> str:
    return DASH if ci is None else f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def points(x: float | None) -> str:
    """A signed difference in percentage points: +37.0 / −4.5."""
    if x is None:
        return DASH
    value = 100 * x
    text = f"{abs(value):.1f}"
    if text == "0.0":
        return "0.0"
    return ("+" if value > 0 else MINUS) + text


def ci_points(ci: tuple[float, float] | None) -> str:
    return DASH if ci is None else f"[{points(ci[0])}, {points(ci[1])}]"


def p_text(p: float | None, n_boot: int | None = None) -> str:
    """A p-value; a bootstrap p of 0 only says "below 2/n_boot", so it is shown that way."""
    if p is None:
        return DASH
    if p == 0:
        return f"<{2 / n_boot:.2g}" if n_boot else "≈0"
    return f"{p:.3g}"


def contrast_name(name: str) -> str:
    """'related_minus_untrained' -> 'related − untrained'."""
    return f" {MINUS} ".join(name.split("_minus_"))


def target_label(target: Target, sep: str = " · ") -> str:
    c = target.cell
    return sep.join((c.modality, c.area, c.task))


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _subsets(arm: Arm) -> str:
    return ", ".join(f"`{s}`" for s in arm.train_subsets) if arm.train_subsets else DASH


def _multi_seed(target: Target) -> bool:
    return any(len(a.per_seed) > 1 for a in target.ordered_arms)


def arm_table_md(target: Target) -> str:
    """The main table of one target: arm | accuracy | 95% CI | n | training subsets | n_train.

    Two columns are added only when they carry information: "no answer" (unparseable answers,
    counted wrong) and the per-seed mean ± sd when several seeds were run."""
    show_no_answer = any(a.no_answer for a in target.ordered_arms)
    show_seeds = _multi_seed(target)
    show_flags = any(a.flags for a in target.ordered_arms)
    header = ["arm", "accuracy", "95% CI", "n", "training subsets", "n_train"]
    header += ["no answer"] * show_no_answer + ["per seed: mean ± sd (values)"] * show_seeds
    header += ["flags"] * show_flags
    rows = []
    for arm in target.ordered_arms:
        ci = ci_pct(arm.ci95) + (" zero width" if zero_width(arm.ci95) else "")
        row = [
            f"`{arm.name}`", pct(arm.accuracy), ci, str(arm.n), _subsets(arm),
            str(arm.n_train),
        ]  # fmt: skip
        if show_no_answer:
            row.append(str(arm.no_answer))
        if show_seeds:
            row.append(_seed_summary(arm))
        if show_flags:
            row.append(", ".join(f"{f.check} ({100 * f.share:.0f}%)" for f in arm.flagged)
                       or "ok")
        rows.append(row)
    return _md_table(header, rows)


def _seed_summary(arm: Arm) -> str:
    if len(arm.per_seed) < 2:
        return DASH
    mean = arm.mean if arm.mean is not None else sum(arm.per_seed) / len(arm.per_seed)
    sd = "?" if arm.sd is None else f"{100 * arm.sd:.1f}"
    values = ", ".join(f"{100 * v:.1f}" for v in arm.per_seed)
    return f"{100 * mean:.1f} ± {sd} ({values})"


def verdicts_table_md(target: Target) -> str:
    """question | difference (points) [95% CI] | per seed | verdict; empty without verdicts."""
    rows = []
    for v in target.verdicts:
        d = target.diffs[v.contrast]
        seeds = ", ".join(points(x) for x in d.per_seed) or DASH
        rows.append([v.question, f"{points(d.diff)} {ci_points(d.ci95)}", seeds,
                     short_verdict(v.verdict)])
    if not rows:
        return ""
    return _md_table(["question", "difference (points) [95% CI]", "per seed", "verdict"], rows)


def contrasts_table_md(target: Target) -> str:
    """Further differences the runner computed (e.g. related − untrained); empty if none."""
    gain_name = target.gain.name if target.gain is not None else None
    # the gain is already in the summary table
    diffs = [target.diffs[k] for k in sorted(target.diffs) if k != gain_name]
    if not diffs:
        return ""
    rows = [
        [contrast_name(d.name), points(d.diff),
         ci_points(d.ci95) + (" zero width: see flags" if zero_width(d.ci95) else ""),
         p_text(d.p_value, d.n_boot)]
        for d in diffs
    ]
    return _md_table(["contrast", "difference (points)", "95% CI", "p"], rows)


def _gain_cells(target: Target) -> list[str]:
    gain = target.gain
    if gain is None:
        return [DASH, DASH, DASH, "n/a (no related/unrelated pair)"]
    p = p_text(gain.p_value, gain.n_boot)
    return [points(gain.diff), ci_points(gain.ci95), p, short_verdict(gain_verdict(target) or "")]


def gains_table_md(report: Report) -> str:
    """target | related − unrelated | 95% CI | p | verdict, one row per target."""
    rows = [
        [f"{target_label(t)} (`{t.cell.subset}`)" + (" — cIoU" if t.is_grounding else ""),
         *_gain_cells(t)] for t in report.targets
    ]
    header = ["target", f"related {MINUS} unrelated (points)", "95% CI", "p", "verdict"]
    return _md_table(header, rows)


def _summary_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    arms = report.arm_names
    header = ["target", *arms, f"related {MINUS} unrelated [95% CI]", "verdict"]
    rows = []
    for t in report.targets:
        accs = [pct(a.accuracy) if (a := t.arm(name)) else DASH for name in arms]
        if t.gain is None:
            gain, word = DASH, DASH
        else:
            gain = f"{points(t.gain.diff)} {ci_points(t.gain.ci95)}"
            word = short_verdict(gain_verdict(t) or "")
        rows.append([f"{target_label(t, ' ')} ({t.cell.subset})", *accs, gain, word])
    return header, rows


def _as_report(metrics: Any) -> Report:
    return metrics if isinstance(metrics, Report) else parse_metrics(metrics)


def format_table(metrics: Any) -> str:
    """One markdown row per target: each arm's accuracy, the CG gain with its CI, the verdict."""
    header, rows = _summary_rows(_as_report(metrics))
    return _md_table(header, rows)


HEADLINE_ARMS = ("related", "unrelated", "target_trained", "untrained")


def _terminal_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    """The summary narrowed to fit an 80-column terminal: the headline arms, the gain, its
    verdict and where the gain comes from; ablation arms stay in report.md."""
    arms = [a for a in report.arm_names if a in HEADLINE_ARMS]
    short = {"unrelated": "unrel.", "target_trained": "target", "untrained": "untr."}
    header = ["target", *(short.get(a, a) for a in arms), "gain [95% CI]", "source", "verdict"]
    rows = []
    for t in report.targets:
        accs = [pct(a.accuracy) if (a := t.arm(name)) else DASH for name in arms]
        gain, word = DASH, DASH
        if t.gain is not None:
            gain = f"{points(t.gain.diff)} {ci_points(t.gain.ci95)}"
            word = short_verdict(gain_verdict(t) or "")
        comp = next((v for v in t.verdicts if v.question.startswith("related vs its best")),
                    None)  # fmt: skip
        source = DASH
        if word == VERDICT_GAIN and comp is not None:
            source = "recombination" if comp.verdict == "recombination" else "1 source"
        rows.append([t.cell.subset, *accs, gain, source, word])
    return header, rows


def table_console():  # -> rich.console.Console
    """A console for result tables: a pipe or log file gets 160 columns (rich would assume 80
    and squeeze the table), a terminal its own width."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=160)


def rich_table(metrics: Any):  # -> rich.table.Table (rich imported lazily)
    """The summary as a :class:`rich.table.Table` for terminals (narrowed: _terminal_rows)."""
    from rich.markup import escape
    from rich.table import Table

    report = _as_report(metrics)
    header, rows = _terminal_rows(report)
    title = "CG experiment" + (" (negative control: null lab)" if report.is_null else "")
    hidden = [a for a in report.arm_names if a not in HEADLINE_ARMS]
    caption = ("gain: related − unrelated (points); target: target_trained; source: "
               "recombination (beats its best single source) or 1 source; "
               f"{len(hidden)} more arms and all verdicts in report.md" if hidden else
               "gain: related − unrelated (points); target: target_trained")  # fmt: skip
    table = Table(title=title, caption=caption)
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 or i >= len(header) - 2 else "right",
                         no_wrap=i == 0)
    styles = {VERDICT_GAIN: "green", VERDICT_NEGATIVE: "red", "negative transfer": "red",
              VERDICT_NONE: "yellow", UNINFORMATIVE: "magenta"}
    for row in rows:
        style = styles.get(row[-1])
        # escape: subset ids or names with "[" must not be read as rich markup
        cells = [escape(c) for c in row[:-1]]
        cells.append(f"[{style}]{escape(row[-1])}[/]" if style else escape(row[-1]))
        table.add_row(*cells)
    return table
