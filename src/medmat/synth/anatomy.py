"""Anatomical areas as tissue-class maps (what is where), independent of the modality.

Each area paints integer tissue classes on a square grid. The renderer later maps classes to
intensities/colours per modality, so the same anatomy looks like itself in every modality but with
that modality's contrast.
"""

from __future__ import annotations

import numpy as np

# tissue classes shared by anatomy, findings and modalities
BACKGROUND, SOFT, ORGAN, DENSE, FLUID, AIRSPACE, LESION = range(7)
N_CLASSES = 7


class Canvas:
    """A class map plus a pixel grid in [-1, 1] coordinates (x to the right, y downwards)."""

    def __init__(self, size: int) -> None:
        self.size = size
        axis = (np.arange(size, dtype=np.float32) + 0.5) / size * 2.0 - 1.0
        self.y, self.x = np.meshgrid(axis, axis, indexing="ij")
        self.classes = np.zeros((size, size), dtype=np.uint8)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, angle: float = 0.0) -> np.ndarray:
        c, s = np.cos(angle), np.sin(angle)
        dx, dy = self.x - cx, self.y - cy
        u = (c * dx + s * dy) / rx
        v = (-s * dx + c * dy) / ry
        return u * u + v * v <= 1.0

    def paint(self, mask: np.ndarray, cls: int) -> None:
        self.classes[mask] = cls


def _lung(cv: Canvas, rng: np.random.Generator) -> np.ndarray:
    sx = 1.0 + rng.uniform(-0.06, 0.06)
    cv.paint(cv.ellipse(0, 0.05, 0.92 * sx, 0.8), SOFT)
    for y in np.linspace(-0.55, 0.55, 5):  # ribs
        rib = (np.abs(cv.y - y) < 0.035) & cv.ellipse(0, 0.05, 0.88 * sx, 0.78)
        cv.paint(rib, DENSE)
    organ = np.zeros_like(cv.classes, dtype=bool)
    for side in (-1, 1):
        lung = cv.ellipse(side * 0.4 * sx, 0.0, 0.3 * sx, 0.6, side * rng.uniform(0.0, 0.12))
        cv.paint(lung, AIRSPACE)
        organ |= lung
    cv.paint(cv.ellipse(0, 0.1, 0.13, 0.5), ORGAN)  # mediastinum
    cv.paint(np.abs(cv.x) < 0.05, DENSE)  # spine
    return organ


def _brain(cv: Canvas, rng: np.random.Generator) -> np.ndarray:
    rx, ry = 0.72 + rng.uniform(-0.05, 0.05), 0.86 + rng.uniform(-0.04, 0.04)
    cv.paint(cv.ellipse(0, 0, rx + 0.08, ry + 0.08), DENSE)  # skull
    brain = cv.ellipse(0, 0, rx, ry)
    cv.paint(brain, ORGAN)
    for side in (-1, 1):  # lateral ventricles
        cv.paint(cv.ellipse(side * 0.11, -0.05, 0.07, 0.25, side * 0.35), FLUID)
    return brain & (cv.classes == ORGAN)


def _bones(cv: Canvas, rng: np.random.Generator) -> np.ndarray:
    tilt = rng.uniform(-0.1, 0.1)
    cv.paint(cv.ellipse(0, 0, 0.7, 1.1, tilt), SOFT)
    gap = 0.06 + rng.uniform(0, 0.03)
    femur = cv.ellipse(0, -0.55, 0.3, 0.55 - gap, tilt) | cv.ellipse(
        0, -0.12 - gap, 0.42, 0.16, tilt
    )
    tibia = cv.ellipse(0, 0.55, 0.27, 0.55 - gap, tilt) | cv.ellipse(0, 0.14 + gap, 0.4, 0.14, tilt)
    cv.paint(femur | tibia, DENSE)
    cv.paint(
        cv.ellipse(0, -0.6, 0.12, 0.4, tilt) | cv.ellipse(0, 0.6, 0.1, 0.4, tilt), ORGAN
    )  # marrow
    # findings sit in soft tissue and marrow, where they contrast in every modality
    return cv.ellipse(0, 0, 0.62, 0.95, tilt) & (cv.classes != DENSE)


def _breast(cv: Canvas, rng: np.random.Generator) -> np.ndarray:
    r = 0.85 + rng.uniform(-0.08, 0.05)
    breast = cv.ellipse(-1.0, 0.0, r * 1.6, r) & (cv.x > -1.0)
    cv.paint(breast, SOFT)
    glands = breast & cv.ellipse(-0.8, rng.uniform(-0.1, 0.1), r * 1.1, r * 0.6)
    cv.paint(glands, ORGAN)
    cv.paint(cv.x < -0.9, DENSE)  # chest wall
    return breast & (cv.x > -0.75)


def _kidney(cv: Canvas, rng: np.random.Generator) -> np.ndarray:
    cv.paint(cv.ellipse(0, 0, 0.95, 0.75), SOFT)
    cv.paint(cv.ellipse(0, 0.35, 0.12, 0.12), DENSE)  # vertebra
    organ = np.zeros_like(cv.classes, dtype=bool)
    for side in (-1, 1):
        cx, cy = side * (0.48 + rng.uniform(-0.04, 0.04)), rng.uniform(-0.1, 0.1)
        kidney = cv.ellipse(cx, cy, 0.24, 0.4, side * -0.3)
        hilum = cv.ellipse(cx - side * 0.2, cy, 0.1, 0.12)
        cv.paint(kidney & ~hilum, ORGAN)
        cv.paint(cv.ellipse(cx, cy, 0.09, 0.22, side * -0.3) & ~hilum, FLUID)  # pelvis
        organ |= kidney & ~hilum
    return organ


def _scene(cv: Canvas, rng: np.random.Generator) -> np.ndarray:
    """An everyday outdoor scene (general domain): sky, clouds, ground, hills.

    Class roles differ from the body: BACKGROUND is sky, AIRSPACE clouds, SOFT ground, ORGAN
    hills. Nothing in the scene is round and solid (no sun), so no background object passes
    for a finding. Findings may sit anywhere: they are objects in front of the scene.
    """
    horizon = rng.uniform(-0.2, 0.3)
    wave = 0.05 * np.sin(rng.uniform(2.0, 4.0) * cv.x + rng.uniform(0, 2 * np.pi))
    for _ in range(int(rng.integers(0, 3))):  # clouds: soft and wide, high in the sky
        cx, cy = rng.uniform(-0.8, 0.8), rng.uniform(-0.9, horizon - 0.3)
        cv.paint(cv.ellipse(cx, cy, rng.uniform(0.2, 0.35), rng.uniform(0.1, 0.16)), AIRSPACE)
    cv.paint(cv.y > horizon + wave, SOFT)
    for _ in range(int(rng.integers(1, 4))):  # hills rising from the horizon
        cx = rng.uniform(-1.0, 1.0)
        cv.paint(
            cv.ellipse(cx, horizon + 0.1, rng.uniform(0.3, 0.7), rng.uniform(0.12, 0.28)), ORGAN
        )
    return np.ones_like(cv.classes, dtype=bool)


AREA_PAINTERS = {
    "Lung": _lung,
    "Brain": _brain,
    "Bones": _bones,
    "Breast": _breast,
    "Kidney": _kidney,
    "Scene": _scene,
}


def paint_area(cv: Canvas, area: str, rng: np.random.Generator) -> np.ndarray:
    """Paint ``area`` on the canvas; return the mask where findings may sit."""
    return AREA_PAINTERS[area](cv, rng)
