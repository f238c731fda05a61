"""Render one lab item deterministically: item i of a cell is the same whatever else is made.

The per-item seed is a hash of (lab seed, subset, split, index), so generation is incremental and
parallel: any slice of any cell can be rendered alone and gives the same pixels.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from medmat.synth.anatomy import Canvas, paint_area
from medmat.synth.findings import DEFAULT_APPEARANCE, Appearance, null_appearance, paint_finding
from medmat.synth.modalities import render
from medmat.synth.spec import Cell


@dataclass(frozen=True)
class LabConfig:
    """Which world to draw: ``null=True`` is the negative control (nothing shared)."""

    seed: int = 0
    null: bool = False
    size: int = 64


def item_seed(cfg: LabConfig, subset: str, split: str, index: int) -> int:
    key = f"{cfg.seed}|{int(cfg.null)}|{subset}|{split}|{index}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little")


def item_label(cell: Cell, index: int) -> str:
    """Labels cycle through the label space, so every split is label-balanced by construction."""
    return cell.labels[index % len(cell.labels)]


@lru_cache(maxsize=1024)
def appearances(cell: Cell, cfg: LabConfig) -> dict[str, Appearance]:
    if cfg.null:
        return null_appearance(cell.modality, cell.area, cell.task, cell.labels, cfg.seed)
    return DEFAULT_APPEARANCE[cell.task]


def render_item(cell: Cell, split: str, index: int, cfg: LabConfig) -> tuple[np.ndarray, str]:
    """Return (uint8 image, label) for item ``index`` of ``cell``'s ``split``."""
    rng = np.random.default_rng(item_seed(cfg, cell.subset, split, index))
    label = item_label(cell, index)
    canvas = Canvas(cfg.size)
    region = paint_area(canvas, cell.area, rng)
    paint_finding(canvas, region, appearances(cell, cfg)[label], rng)
    return render(cell.modality, canvas.classes, rng), label
