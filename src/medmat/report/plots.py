"""accuracy.png: grouped bars (one group per target, one bar per arm) with 95% CI whiskers.

Plots are drawn on a bare :class:`matplotlib.figure.Figure` (no pyplot: no global figure
registry, no display), under matplotlib's default style so a user's matplotlibrc cannot change
the picture, and saved without software/date metadata: the same metrics give the same bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from medmat.report.schema import Report
from medmat.report.tables import target_label

# Same colour for an arm in every plot: related green and unrelated blue match lattice.png.
ARM_COLOURS = {
    "related": "#2ca02c",
    "unrelated": "#1f77b4",
    "target_trained": "#9467bd",
    "untrained": "#7f7f7f",
}
_EXTRA_COLOURS = ("#ff7f0e", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#d62728")

# Very large experiments (dozens of targets) still give a PNG a browser opens comfortably.
MAX_PIXELS = 24_000_000
BASE_DPI = 100


def arm_colour(name: str, extras: tuple[str, ...]) -> str:
    if name in ARM_COLOURS:
        return ARM_COLOURS[name]
    return _EXTRA_COLOURS[extras.index(name) % len(_EXTRA_COLOURS)] if name in extras else "#555"


@contextmanager
def plot_style() -> Iterator[None]:
    import matplotlib
    import matplotlib.style

    with matplotlib.style.context("default"), matplotlib.rc_context({"font.size": 9}):
        yield


def new_figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=BASE_DPI)


def png_bytes(fig: Any) -> bytes:
    """Deterministic PNG: no Software/date metadata, dpi capped so huge figures stay openable."""
    width, height = fig.get_size_inches()
    dpi = min(BASE_DPI, math.sqrt(MAX_PIXELS / (width * height)))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def render_accuracy_png(report: Report) -> bytes:
    """PNG bytes of the accuracy plot of ``report`` (see module doc)."""
    with plot_style():
        return _render_accuracy(report)


def _render_accuracy(report: Report) -> bytes:
    import numpy as np
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    arms = report.arm_names
    extras = tuple(a for a in arms if a not in ARM_COLOURS)
    n_t, n_a = len(report.targets), len(arms)
    group = 0.8  # width of a target's group of bars on the x axis (targets sit 1 apart)
    bar = group / n_a
    fig = new_figure(max(6.0, 1.6 + n_t * (0.42 * n_a + 0.6)), 4.8)
    ax = fig.add_subplot()
    label_size = 7 if n_a * n_t <= 24 else 6
    for ti, target in enumerate(report.targets):
        for ai, name in enumerate(arms):
            arm = target.arm(name)
            if arm is None or arm.accuracy is None:
                continue
            x = ti - group / 2 + bar * (ai + 0.5)
            acc = arm.accuracy
            yerr = None
            top = acc
            if arm.ci95 is not None:
                lo, hi = arm.ci95
                yerr = np.array([[max(0.0, acc - lo)], [max(0.0, hi - acc)]])
                top = max(acc, hi)
            ax.bar(x, acc, width=bar * 0.92, color=arm_colour(name, extras), yerr=yerr,
                   capsize=2.5, error_kw={"elinewidth": 0.9, "ecolor": "#222"})  # fmt: skip
            ax.text(x, min(top + 0.015, 1.06), f"{100 * acc:.0f}", ha="center", va="bottom",
                    fontsize=label_size, color="#222")  # fmt: skip
        chance = target.chance
        if chance is not None:
            # dashed per target: targets may have different numbers of options
            ax.hlines(chance, ti - group / 2 - 0.04, ti + group / 2 + 0.04, colors="#d62728",
                      linestyles="dashed", linewidth=1.2, zorder=3)  # fmt: skip
    ax.set_xlim(-0.6, n_t - 0.4)
    ax.set_ylim(0, 1.12)
    ax.set_yticks(np.linspace(0, 1, 6), labels=[f"{v}%" for v in range(0, 101, 20)])
    ax.set_ylabel("accuracy (95% CI)")
    labels = [f"{target_label(t, chr(10))}\n({t.cell.subset})" for t in report.targets]
    rotate = n_t > 5
    ax.set_xticks(range(n_t), labels=labels, rotation=30 if rotate else 0,
                  ha="right" if rotate else "center", fontsize=8)  # fmt: skip
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    title = "Accuracy per arm on each unseen target"
    if report.is_null:
        title += " (negative control: null lab, no gain expected)"
    ax.set_title(title, fontsize=10)
    handles = [Patch(color=arm_colour(a, extras), label=a.replace("_", " ")) for a in arms]
    handles.append(Line2D([], [], color="#d62728", linestyle="dashed", label="chance"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
              frameon=False)  # fmt: skip
    fig.tight_layout()
    return png_bytes(fig)
