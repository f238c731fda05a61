"""Findings: what each task label looks like, as tissue painted into the anatomy.

A finding is an :class:`Appearance` (shape kind, tissue class, size, side). In the default lab
every label has ONE appearance shared by all modalities and areas (a cyst is a fluid-filled ring
wherever it is), so elements learned in one combination can be recombined in another. In the
``null`` lab each (modality, area) pair draws its own appearance for every label, independently,
so there is nothing shared to recombine: the negative control.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from medmat.synth.anatomy import DENSE, FLUID, LESION, Canvas


@dataclass(frozen=True)
class Appearance:
    kind: str  # none | disk | ring | dots | streak | patches | wedge
    tissue: int = LESION
    scale: float = 1.0
    count: int = 1
    side: int = 0  # -1 image-left half, +1 image-right half, 0 anywhere


DEFAULT_APPEARANCE: dict[str, dict[str, Appearance]] = {
    "Lesion type": {
        "Nodule": Appearance("disk"),
        "Cyst": Appearance("ring"),
        "Calcification": Appearance("dots", tissue=DENSE),
        "Linear lesion": Appearance("streak"),
    },
    "Severity grade": {
        "Mild": Appearance("patches", count=1, scale=0.8),
        "Moderate": Appearance("patches", count=3, scale=1.0),
        "Severe": Appearance("patches", count=6, scale=1.25),
    },
    "Abnormality": {"Normal": Appearance("none"), "Abnormal": Appearance("wedge")},
    "Location": {
        "Left side": Appearance("disk", side=-1),
        "Right side": Appearance("disk", side=1),
    },
}
# detection draws the lesion types with the looks they have everywhere else in the lab, so a
# detection cell and a lesion-type cell share their elements (the cls <-> det transfer)
DEFAULT_APPEARANCE["Detection/segmentation"] = DEFAULT_APPEARANCE["Lesion type"]


def null_appearance(
    modality: str, area: str, task: str, labels: tuple[str, ...], lab_seed: int
) -> dict[str, Appearance]:
    """Independent random appearances for one (modality, area) pair.

    Every label gets its own random "stamp" (a blocky random shape); all stamps are lesion
    tissue of the same area, so labels differ only by a shape that no other pair uses.

    Why not permute the default shapes? A permutation is shared structure too: a model maps a
    learned shape to the wrong label and scores *below* chance (we measured 11% on a
    four-label target), which is negative transfer, not the absence of anything to recombine.
    """
    key = f"null|{lab_seed}|{modality}|{area}|{task}".encode()
    seed = int.from_bytes(hashlib.sha256(key).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    return {
        label: Appearance("stamp", tissue=LESION, count=int(rng.integers(0, 2**31)))
        for label in labels
    }


def _stamp(code: int) -> np.ndarray:
    """A random 4x4 binary stamp with exactly 7 cells set (same area for every label)."""
    rng = np.random.default_rng(code)
    grid = np.zeros(16, dtype=bool)
    grid[rng.permutation(16)[:7]] = True
    return grid.reshape(4, 4)


def _centre(
    cv: Canvas, region: np.ndarray, side: int, rng: np.random.Generator
) -> tuple[float, float]:
    if side:
        sided = region & ((cv.x < -0.1) if side < 0 else (cv.x > 0.1))
        region = sided if sided.any() else region
    ys, xs = np.nonzero(region)
    if len(ys) == 0:
        return 0.0, 0.0
    i = int(rng.integers(len(ys)))
    return float(cv.x[ys[i], xs[i]]), float(cv.y[ys[i], xs[i]])


def paint_finding(
    cv: Canvas, region: np.ndarray, app: Appearance, rng: np.random.Generator
) -> np.ndarray:
    """Paint one finding into ``cv`` inside ``region`` (the organ mask); return the pixels whose
    tissue class it changed (all False for ``none``): the finding as the image shows it."""
    before = cv.classes.copy()
    if app.kind == "none":
        return np.zeros(before.shape, dtype=bool)
    _paint_kind(cv, region, app, rng)
    if np.array_equal(before, cv.classes):
        # Clipping to the organ can erase a small finding; a labelled finding must be visible.
        cx, cy = _centre(cv, region, app.side, rng)
        cv.paint(cv.ellipse(cx, cy, 0.12, 0.12), app.tissue)
    return before != cv.classes


def _paint_kind(cv: Canvas, region: np.ndarray, app: Appearance, rng: np.random.Generator) -> None:
    # Keep findings away from the border so that blur/sector masks never erase them.
    inner = region & (np.abs(cv.x) < 0.75) & (np.abs(cv.y) < 0.75)
    region = inner if inner.any() else region
    s = app.scale
    if app.kind == "disk":
        cx, cy = _centre(cv, region, app.side, rng)
        r = 0.17 * s * rng.uniform(0.85, 1.15)
        cv.paint(cv.ellipse(cx, cy, r, r * rng.uniform(0.85, 1.15)), app.tissue)
    elif app.kind == "ring":
        cx, cy = _centre(cv, region, app.side, rng)
        r = 0.2 * s * rng.uniform(0.85, 1.15)
        cv.paint(cv.ellipse(cx, cy, r, r), app.tissue)
        cv.paint(cv.ellipse(cx, cy, r * 0.6, r * 0.6), FLUID if app.tissue != FLUID else LESION)
    elif app.kind == "dots":
        cx, cy = _centre(cv, region, app.side, rng)
        for _ in range(int(rng.integers(5, 9))):
            dx, dy = rng.normal(0, 0.1 * s, size=2)
            r = 0.045 * rng.uniform(0.8, 1.3)
            cv.paint(cv.ellipse(cx + dx, cy + dy, r, r), app.tissue)
    elif app.kind == "streak":
        cx, cy = _centre(cv, region, app.side, rng)
        cv.paint(cv.ellipse(cx, cy, 0.34 * s, 0.05, rng.uniform(0, np.pi)), app.tissue)
    elif app.kind == "patches":
        for _ in range(app.count):
            cx, cy = _centre(cv, region, app.side, rng)
            r = 0.1 * s * rng.uniform(0.8, 1.2)
            cv.paint(
                cv.ellipse(cx, cy, r, r * rng.uniform(0.6, 1.0), rng.uniform(0, np.pi)) & region,
                app.tissue,
            )
    elif app.kind == "wedge":
        cx, cy = _centre(cv, region, app.side, rng)
        angle = rng.uniform(0, 2 * np.pi)
        dx, dy = cv.x - cx, cv.y - cy
        theta = np.abs((np.arctan2(dy, dx) - angle + np.pi) % (2 * np.pi) - np.pi)
        dist = np.hypot(dx, dy)
        cv.paint((theta < 0.45) & (dist < 0.42 * s) & region, app.tissue)
    elif app.kind == "stamp":
        cx, cy = _centre(cv, region, app.side, rng)
        stamp = np.rot90(_stamp(app.count), int(rng.integers(4)))
        cell = 0.16 * rng.uniform(0.9, 1.1)  # stamp cell size in canvas units
        gx = np.floor((cv.x - cx) / cell + 2.0).astype(int)
        gy = np.floor((cv.y - cy) / cell + 2.0).astype(int)
        inside = (gx >= 0) & (gx < 4) & (gy >= 0) & (gy < 4)
        hit = np.zeros_like(inside)
        hit[inside] = stamp[gy[inside], gx[inside]]
        cv.paint(hit, app.tissue)
    else:  # pragma: no cover - guarded by Appearance construction in this module
        raise ValueError(f"unknown finding kind {app.kind!r}")
