"""boxes.png: a few test images of each grounding target with the true and predicted boxes.

The experiment run draws it (it has the images; ``metrics.json`` does not): one row per
grounding target, one panel per example image, the true box in black dashes and each main arm's
box (its first training seed's reply) in the arm's colour of accuracy.png. An arm whose reply had
no readable box is listed under the panel as a miss. Deterministic bytes, as every plot here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from medmat.errors import MedmatError
from medmat.report.plots import arm_colour, new_figure, plot_style, png_bytes

BOXES_PNG = "boxes.png"
MAIN_ARMS = ("related", "unrelated", "target_trained", "untrained")
EXAMPLES_PER_TARGET = 4

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class BoxExample:
    """One test image of a grounding target: canonical 0-1 boxes, true and per arm."""

    target: str
    item_id: int
    image: Path
    gold: Box
    predicted: Mapping[str, Box | None]


def _load(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (OSError, ValueError) as exc:
        raise MedmatError(f"{path}: cannot draw the box figure from this image ({exc})") from None


def _rect(ax, box: Box, size: tuple[int, int], **style) -> None:
    from matplotlib.patches import Rectangle

    w, h = size
    x1, y1, x2, y2 = box
    ax.add_patch(Rectangle((x1 * w, y1 * h), (x2 - x1) * w, (y2 - y1) * h, fill=False,
                           **style))


def render_boxes_png(examples: Sequence[BoxExample]) -> bytes:
    """PNG bytes of the example grid (see the module doc); ``examples`` in display order."""
    if not examples:
        raise MedmatError("no grounding examples to draw")
    with plot_style():
        return _render(examples)


def _render(examples: Sequence[BoxExample]) -> bytes:
    from matplotlib.lines import Line2D

    targets = list(dict.fromkeys(e.target for e in examples))
    rows = [[e for e in examples if e.target == t] for t in targets]
    n_cols = max(len(r) for r in rows)
    arms = [a for a in MAIN_ARMS if any(a in e.predicted for e in examples)]
    fig = new_figure(2.3 * n_cols + 1.8, 2.6 * len(rows))
    for r, row in enumerate(rows):
        for c, ex in enumerate(row):
            ax = fig.add_subplot(len(rows), n_cols, r * n_cols + c + 1)
            pixels = _load(ex.image)
            size = (pixels.shape[1], pixels.shape[0])
            ax.imshow(pixels, interpolation="nearest")
            _rect(ax, ex.gold, size, edgecolor="black", linestyle="--", linewidth=1.6)
            missed = []
            for arm in (a for a in arms if a in ex.predicted):
                box = ex.predicted[arm]
                if box is None:
                    missed.append(arm)
                else:
                    _rect(ax, box, size, edgecolor=arm_colour(arm, ()), linewidth=1.2)
            ax.set_xticks([])
            ax.set_yticks([])
            title = f"{ex.target}\nitem {ex.item_id}" if c == 0 else f"item {ex.item_id}"
            ax.set_title(title, fontsize=7)
            if missed:
                ax.set_xlabel("miss: " + ", ".join(missed), fontsize=6)
    handles = [Line2D([], [], color="black", linestyle="--", label="true box")]
    handles += [Line2D([], [], color=arm_colour(a, ()), label=a.replace("_", " ")) for a in arms]
    fig.legend(handles=handles, loc="upper right", fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0, 1 - 1.6 / (2.3 * n_cols + 1.8), 1))
    return png_bytes(fig)
