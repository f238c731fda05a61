"""Render one lab item deterministically: item i of a cell is the same whatever else is made.

The per-item seed is a hash of (lab seed, subset, split, index), so generation is incremental and
parallel: any slice of any cell can be rendered alone and gives the same pixels (and adding a
task or a cell never moves another cell's random stream).

A detection cell's item also has its region (:func:`render_item_regions`): the pixel-edge box
of the pixels whose tissue class the finding changed, labelled with the finding's name. The
modality renders the class map pixel for pixel (no resize, crop or shift), so the box is a box
of the stored image; blur may spread the finding's edge by a pixel or so beyond it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from medmat.regions import Region
from medmat.synth.anatomy import Canvas, paint_area
from medmat.synth.findings import DEFAULT_APPEARANCE, Appearance, null_appearance, paint_finding
from medmat.synth.modalities import render
from medmat.synth.spec import GENERAL_MODALITIES, Cell


@dataclass(frozen=True)
class LabConfig:
    """Which world to draw: ``null=True`` is the negative control (nothing shared)."""

    seed: int = 0
    null: bool = False
    size: int = 64


def item_seed(cfg: LabConfig, subset: str, split: str, index: int) -> int:
    # The general-domain part is the same world in the default and the null lab (see
    # `appearances`), so its seed leaves the null flag out: its images are byte-identical in both.
    general = subset.split("-", 1)[0] in GENERAL_MODALITIES.values()
    null = "general" if general else int(cfg.null)
    key = f"{cfg.seed}|{null}|{subset}|{split}|{index}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little")


def record_source(cell: Cell, cfg: LabConfig) -> str:
    """The records' ``source``: which world drew the image.

    General-domain cells say ``synthetic-lab-general`` in both labs (they are the same images).
    """
    if cell.general:
        return "synthetic-lab-general"
    return f"synthetic-lab{'-null' if cfg.null else ''}"


def item_label(cell: Cell, index: int) -> str:
    """Labels cycle through the label space, so every split is label-balanced by construction."""
    return cell.labels[index % len(cell.labels)]


@lru_cache(maxsize=1024)
def appearances(cell: Cell, cfg: LabConfig) -> dict[str, Appearance]:
    """What each label looks like in ``cell``.

    The general-domain part keeps the default (generic) looks in the null lab too: the null lab
    removes what medical MAT combinations share with each other, not the general knowledge a
    model brings. There its looks match no medical cell (each pair has its own stamps), so
    general data cannot help a null target beyond teaching the label words.
    """
    if cfg.null and not cell.general:
        return null_appearance(cell.modality, cell.area, cell.task, cell.labels, cfg.seed)
    return DEFAULT_APPEARANCE[cell.task]


def render_item(cell: Cell, split: str, index: int, cfg: LabConfig) -> tuple[np.ndarray, str]:
    """Return (uint8 image, label) for item ``index`` of ``cell``'s ``split``."""
    arr, label, _ = render_item_regions(cell, split, index, cfg)
    return arr, label


def finding_region(changed: np.ndarray, label: str) -> Region:
    """The pixel-edge box (outer extent) and pixel count of a finding's changed pixels."""
    rows, cols = np.nonzero(changed)
    box = (float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1))
    return Region(box, label, int(len(rows)))


def render_item_regions(cell: Cell, split: str, index: int, cfg: LabConfig
                        ) -> tuple[np.ndarray, str, tuple[Region, ...] | None]:
    """(uint8 image, label, regions) of an item; regions only for detection cells."""
    rng = np.random.default_rng(item_seed(cfg, cell.subset, split, index))
    label = item_label(cell, index)
    canvas = Canvas(cfg.size)
    region = paint_area(canvas, cell.area, rng)
    changed = paint_finding(canvas, region, appearances(cell, cfg)[label], rng)
    arr = render(cell.modality, canvas.classes, rng)
    # paint_finding guarantees a labelled finding changes some pixel, so the box exists
    return arr, label, (finding_region(changed, label),) if cell.detection else None
