"""Markdown tables of a grounding target: box metrics per arm and paired box differences.

cIoU, mIoU and acc@0.5 are shown as percentages and their differences as signed points, like
accuracies (:mod:`medmat.report.tables`), so "+5.0" reads the same in every table.
"""

from __future__ import annotations

from medmat.evaluate.results import BoxArm, BoxDelta
from medmat.report.schema import Target
from medmat.report.tables import (
    DASH,
    _md_table,
    _subsets,
    ci_pct,
    ci_points,
    contrast_name,
    p_text,
    pct,
    points,
)

BOX_METRICS = (("ciou", "cIoU"), ("miou", "mIoU"), ("acc50", "acc@0.5"))
GROUNDING_NOTE = (
    "Grounding target: each answer is a box. **cIoU** (the study's metric) is the sum of "
    "intersections over the sum of unions over the test items; **mIoU** the mean per-item IoU; "
    "**acc@0.5** the share of items with IoU >= 0.5 (the `accuracy` of the plots and summary "
    "table for this target). A reply without a readable box is a miss: IoU 0, its true box's "
    "area added to the unions. Intervals: two-level bootstrap over training seeds, then test "
    "items; contrasts and verdicts use cIoU."
)


def _metric_cell(boxes: BoxArm, key: str) -> str:
    m = getattr(boxes, key)
    return f"{pct(m.value)} {ci_pct(m.ci95)}"


def box_arm_table_md(target: Target) -> str:
    """arm | cIoU [CI] | mIoU [CI] | acc@0.5 [CI] | misses | n | training subsets | n_train
    (+ per-seed cIoU with several seeds)."""
    seeds = any(a.boxes is not None and len(a.boxes.ciou.per_seed) > 1
                for a in target.ordered_arms)
    header = ["arm", *(f"{label} [95% CI]" for _, label in BOX_METRICS), "misses", "n",
              "training subsets", "n_train"] + ["cIoU per seed"] * seeds
    rows = []
    for arm in target.ordered_arms:
        b = arm.boxes
        if b is None:
            continue
        misses = f"{b.n_miss} of {arm.n * max(1, len(b.miss_per_seed))}"
        row = [f"`{arm.name}`", *(_metric_cell(b, k) for k, _ in BOX_METRICS), misses,
               str(arm.n), _subsets(arm), str(arm.n_train)]
        if seeds:
            row.append(", ".join(f"{100 * v:.1f}" for v in b.ciou.per_seed) or DASH)
        rows.append(row)
    return _md_table(header, rows)


def _delta(d: BoxDelta | None) -> str:
    return DASH if d is None else f"{points(d.diff)} {ci_points(d.ci95)}"


def box_contrasts_table_md(target: Target) -> str:
    """contrast | ΔcIoU [CI] | p | ΔmIoU [CI] | Δacc@0.5 [CI], every paired contrast."""
    rows = []
    for name in sorted(target.diffs):
        c = target.diffs[name]
        boxes = c.boxes or {}
        rows.append([contrast_name(name), _delta(boxes.get("ciou")),
                     p_text(c.p_value, c.n_boot), _delta(boxes.get("miou")),
                     _delta(boxes.get("acc50"))])
    if not rows:
        return ""
    return _md_table(["contrast", "cIoU (points) [95% CI]", "p", "mIoU (points) [95% CI]",
                      "acc@0.5 (points) [95% CI]"], rows)


def baseline_line(target: Target) -> str:
    """The trivial answer's cIoU next to target_trained's: is the box learnt at all?"""
    whole = target.whole_image_ciou
    if whole is None:
        return ""
    line = f"Whole-image box (the trivial answer) cIoU {pct(whole)}"
    tt = target.arm("target_trained")
    if tt is not None and tt.boxes is not None:
        line += f"; `target_trained` cIoU {pct(tt.boxes.ciou.value)}"
    return line + "."
