"""lattice.png: where each target sits in the MAT lattice, and which cells trained each arm.

One panel per target: rows are modalities, columns anatomical areas; a grid cell holds one slot
per task family available there, labelled with the task code. The target slot has a red border
and a star, the related arm's training subsets are green, the unrelated arm's blue, every other
available subset grey. Reading it shows at a glance that related training surrounds the target
(same row, column or task) while unrelated training shares none of its elements.
"""

from __future__ import annotations

import math

from medmat.report.plots import BASE_DPI, MAX_PIXELS, new_figure, plot_style, png_bytes
from medmat.report.schema import Cell, Report, Target

TARGET_EDGE = "#d62728"
_Slots = dict[tuple[str, str], list[Cell]]
FILL = {
    "target": "#fde0e0",
    "related": "#8fd18f",
    "unrelated": "#9cc3e6",
    "other": "#e3e3e3",
}
LEGEND = {
    "target": "target (never trained on)",
    "related": "related arm trains on",
    "unrelated": "unrelated arm trains on",
    "other": "other available subset",
}


def task_code(task: str) -> str:
    """Short task label for a slot: the taxonomy code, else the name cut to 8 characters."""
    try:
        from medmat.taxonomy import code

        return code("task", task)
    except Exception:  # unknown or user-specific task names still get a label
        return task if len(task) <= 8 else task[:7] + "."


def _ordered(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _cells(report: Report) -> list[Cell]:
    """Lattice cells plus any target the runner left out of the lattice, deduplicated by id."""
    by_id: dict[str, Cell] = {}
    for cell in (*report.lattice, *(t.cell for t in report.targets)):
        by_id.setdefault(cell.subset, cell)
    return list(by_id.values())


def _role(subset: str, target: Target) -> str:
    if subset == target.cell.subset:
        return "target"
    related, unrelated = target.arm("related"), target.arm("unrelated")
    if related is not None and subset in related.train_subsets:
        return "related"
    if unrelated is not None and subset in unrelated.train_subsets:
        return "unrelated"
    return "other"


def render_lattice_png(report: Report) -> bytes:
    """PNG bytes of the per-target lattice panels of ``report``."""
    with plot_style():
        return _render(report)


def _panel_size(modalities: list[str], areas: list[str], slots: _Slots) -> tuple[float, float]:
    width = sum(_col_widths(modalities, areas, slots)) * 0.8 + 1.9
    return width, 0.6 * len(modalities) + 1.5


def _col_widths(modalities: list[str], areas: list[str], slots: _Slots) -> list[float]:
    """Data units per area column: wider where a cell holds many task slots (codes stay legible)."""
    return [
        max(1.0, 0.42 * max((len(slots.get((m, a), ())) for m in modalities), default=0))
        for a in areas
    ]


def _zoom(target: Target, modalities: list[str], areas: list[str], cells: list[Cell]):
    """Only the rows and columns that hold the target or one of its arms' training cells."""
    keep = {target.cell.subset}
    for name in ("related", "unrelated"):
        arm = target.arm(name)
        keep |= set(arm.train_subsets) if arm is not None else set()
    used = [c for c in cells if c.subset in keep]
    return (
        [m for m in modalities if any(c.modality == m for c in used)],
        [a for a in areas if any(c.area == a for c in used)],
    )


def _render(report: Report) -> bytes:
    from matplotlib.patches import Patch

    cells = _cells(report)
    modalities = _ordered([c.modality for c in cells])
    areas = _ordered([c.area for c in cells])
    tasks = _ordered([c.task for c in cells])
    slots: _Slots = {}
    for cell in sorted(cells, key=lambda c: (tasks.index(c.task), c.subset)):
        slots.setdefault((cell.modality, cell.area), []).append(cell)

    n_t = len(report.targets)
    views = [(modalities, areas)] * n_t
    panel_w, panel_h = _panel_size(modalities, areas, slots)
    zoomed = n_t * panel_w * panel_h * BASE_DPI**2 > MAX_PIXELS
    if zoomed:
        # The whole lattice once per target would not fit a legible PNG (the real catalog has
        # 11 modalities x 19 areas): each panel keeps the rows/columns its arms touch.
        views = [_zoom(t, modalities, areas, cells) for t in report.targets]
        sizes = [_panel_size(m, a, slots) for m, a in views]
        panel_w, panel_h = max(w for w, _ in sizes), max(h for _, h in sizes)
    ncols = max(1, min(n_t, 4, int(16 // panel_w)))
    nrows = math.ceil(n_t / ncols)
    legend_h, title_h = 0.45, 0.4
    height = panel_h * nrows + legend_h + title_h
    fig = new_figure(panel_w * ncols, height)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < n_t:
            _panel(ax, report.targets[i], *views[i], slots)
        else:
            ax.set_axis_off()
    handles = [Patch(facecolor=FILL[k], edgecolor="#999", label=LEGEND[k]) for k in FILL]
    handles[0] = Patch(facecolor=FILL["target"], edgecolor=TARGET_EDGE, linewidth=2,
                       label=LEGEND["target"] + "  \u2605")  # fmt: skip
    fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False, fontsize=8)
    title = "MAT lattice: target and training cells per arm (slot text = task code)"
    if zoomed:
        title += "; only rows/columns holding a target or training cell"
    # anchored in inches from the top: a relative y drifts into the panels on tall figures
    fig.suptitle(title, fontsize=10, y=1 - 0.12 / height, va="top")
    fig.tight_layout(rect=(0, legend_h / height, 1, 1))  # it leaves room for the suptitle
    return png_bytes(fig)


def _panel(
    ax,
    target: Target,
    modalities: list[str],
    areas: list[str],
    slots: _Slots,
) -> None:
    from matplotlib.patches import Rectangle

    widths = _col_widths(modalities, areas, slots)
    starts = [sum(widths[:i]) for i in range(len(widths))]
    for r, modality in enumerate(modalities):
        for c, area in enumerate(areas):
            x0, cw = starts[c], widths[c]
            ax.add_patch(Rectangle((x0, r), cw, 1, facecolor="white", edgecolor="#cccccc",
                                   linewidth=0.6))  # fmt: skip
            here = slots.get((modality, area), [])
            k = len(here)
            for j, cell in enumerate(here):
                role = _role(cell.subset, target)
                x, w = x0 + cw * j / k, cw / k
                is_target = role == "target"
                ax.add_patch(Rectangle(
                    (x + 0.03, r + 0.06), w - 0.06, 0.88, facecolor=FILL[role],
                    edgecolor=TARGET_EDGE if is_target else "white",
                    linewidth=2.2 if is_target else 0.5, zorder=3 if is_target else 2,
                ))  # fmt: skip
                label = task_code(cell.task)
                small = k > 2 or len(label) > 8
                ax.text(x + w / 2, r + 0.55, label, ha="center", va="center",
                        fontsize=6 if small else 7, rotation=90 if w < 0.75 else 0,
                        zorder=4)  # fmt: skip
                if is_target:
                    ax.plot(x + w - 0.13, r + 0.2, marker="*", color=TARGET_EDGE,
                            markersize=8, zorder=5)  # fmt: skip
    ax.set_xlim(0, sum(widths))
    ax.set_ylim(len(modalities), 0)  # first modality on top, like a table
    rotate = max((len(a) for a in areas), default=0) > 6
    ax.set_xticks([s + w / 2 for s, w in zip(starts, widths, strict=True)], labels=areas,
                  fontsize=8, rotation=40 if rotate else 0,
                  ha="right" if rotate else "center")  # fmt: skip
    ax.set_yticks([r + 0.5 for r in range(len(modalities))], labels=modalities, fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    cell = target.cell
    ax.set_title(f"{cell.modality} · {cell.area} · {cell.task}  ({cell.subset})", fontsize=9)
