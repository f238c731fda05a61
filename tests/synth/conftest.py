"""Fixtures for the synthetic-lab tests: small labs on disk and a test-side re-derivation.

``rederive`` re-runs the lab's three stages (anatomy -> finding -> modality) with the item's own
seed, keeping the class map before and after the finding and rendering the finding-free map with
the very same noise. Tests then judge the *drawn* finding against the meaning of the label (side,
count, shape, tissue) and tie it to the PNG on disk, so a label that does not match its pixels
fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import ndimage

from medmat.synth import AREAS, MODALITIES, TASKS, Cell, LabConfig, generate_lab
from medmat.synth.anatomy import DENSE, FLUID, LESION, Canvas, paint_area
from medmat.synth.findings import paint_finding
from medmat.synth.lab import appearances, item_seed
from medmat.synth.modalities import render


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("MEDMAT_PROGRESS", "0")


@dataclass
class Drawn:
    before: np.ndarray  # tissue classes of the anatomy alone
    after: np.ndarray  # ... with the finding painted in
    image: np.ndarray  # rendered item (what the lab writes)
    image_without: np.ndarray  # finding-free anatomy rendered with the same noise

    @property
    def changed(self) -> np.ndarray:
        return self.before != self.after


def rederive(cell: Cell, split: str, index: int, cfg: LabConfig, label: str) -> Drawn:
    rng = np.random.default_rng(item_seed(cfg, cell.subset, split, index))
    canvas = Canvas(cfg.size)
    region = paint_area(canvas, cell.area, rng)
    before = canvas.classes.copy()
    paint_finding(canvas, region, appearances(cell, cfg)[label], rng)
    twin = np.random.default_rng()
    twin.bit_generator.state = rng.bit_generator.state
    image = render(cell.modality, canvas.classes, rng)
    return Drawn(before, canvas.classes.copy(), image, render(cell.modality, before, twin))


def elongation(mask: np.ndarray) -> float:
    """Ratio of the principal axes of a pixel set (1 = round)."""
    ys, xs = np.nonzero(mask)
    if len(ys) < 3:
        return 1.0
    small, large = np.linalg.eigvalsh(np.cov(np.vstack([xs, ys])))
    return float(np.sqrt(max(large, 1e-9) / max(small, 1e-3)))


def semantic_problem(label: str, drawn: Drawn) -> str | None:
    """What is wrong with the drawn finding for ``label`` in the default lab, or None.

    The checks follow the label's meaning, not the lab's code: a nodule is one round solid blob,
    a cyst a rim around fluid, a calcification dense, a linear lesion elongated, severity grows
    with the number of patches, a side label sits in that half of the image.
    """
    changed = drawn.changed
    tissues = set(np.unique(drawn.after[changed]).tolist())
    n_parts = ndimage.label(changed)[1]
    size = changed.shape[1]
    if label == "Normal":
        return None if not changed.any() else "a Normal item has a finding"
    if label == "Abnormal":  # emptiness is checked by a separate (known-issue) test
        return None if tissues <= {LESION} else f"tissues {tissues}"
    if not changed.any():
        return "no finding drawn"
    if label == "Nodule":
        filled = ndimage.binary_fill_holes(changed).sum() == changed.sum()
        ok = tissues == {LESION} and n_parts == 1 and filled and elongation(changed) < 2
        return None if ok else f"not one round solid lesion ({tissues}, {n_parts} parts)"
    if label == "Cyst":
        enclosed = ndimage.binary_fill_holes(drawn.after == LESION) & (drawn.after == FLUID)
        ok = tissues <= {LESION, FLUID} and LESION in tissues and enclosed.any()
        return None if ok else f"no fluid inside a lesion rim ({tissues})"
    if label == "Calcification":
        return None if tissues == {DENSE} else f"not dense tissue ({tissues})"
    if label == "Linear lesion":
        ok = tissues == {LESION} and elongation(changed) >= 3
        return None if ok else f"not elongated ({elongation(changed):.1f})"
    if label in ("Mild", "Moderate", "Severe"):
        lo, hi = {"Mild": (1, 1), "Moderate": (1, 3), "Severe": (2, 6)}[label]
        ok = tissues == {LESION} and lo <= n_parts <= hi
        return None if ok else f"{n_parts} patches ({tissues})"
    if label in ("Left side", "Right side"):
        cx = np.nonzero(changed)[1].mean() - (size - 1) / 2
        ok = tissues == {LESION} and n_parts == 1 and (cx < 0) == (label == "Left side")
        return None if ok else f"centroid x offset {cx:+.1f} px ({n_parts} parts)"
    return f"no check for label {label!r}"


def latin_lattice() -> list[Cell]:
    """Every (modality, area) pair once, tasks rotating: all factors seen with few cells."""
    tasks = list(TASKS)
    return [
        Cell(m, a, tasks[(i + j) % len(tasks)])
        for i, m in enumerate(MODALITIES)
        for j, a in enumerate(AREAS)
    ]


@pytest.fixture(scope="session")
def default_lab(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("default_lab")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MEDMAT_PROGRESS", "0")
        generate_lab(root, latin_lattice(), n_train=8, n_val=2, n_test=4,
                     cfg=LabConfig(size=32), workers=1)
    return root


@pytest.fixture(scope="session")
def null_lab(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("null_lab")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MEDMAT_PROGRESS", "0")
        generate_lab(root, latin_lattice(), n_train=4, n_val=0, n_test=2,
                     cfg=LabConfig(size=32, null=True), workers=1)
    return root


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative POSIX path -> bytes)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.fixture
def helpers() -> SimpleNamespace:
    """Plain functions for the test modules (importlib mode has no package to import from)."""
    return SimpleNamespace(rederive=rederive, semantic_problem=semantic_problem,
                           elongation=elongation, latin_lattice=latin_lattice,
                           tree_bytes=tree_bytes)
