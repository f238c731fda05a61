"""Image formation per modality: tissue-class map -> pixels.

Each modality has its own contrast (a value or colour per tissue class) and its own physics-like
formation and noise, so a finding's appearance always passes through the modality: a cyst is a
bright rim in CT, a bright core in MRI (fluid is bright on T2), an anechoic hole with posterior
enhancement in ultrasound, a dark-red spot on a fundus photo, a pale hole in stained tissue.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

from medmat.synth.anatomy import N_CLASSES

# intensity per tissue class: BACKGROUND, SOFT, ORGAN, DENSE, FLUID, AIRSPACE, LESION
_GREY = {
    "X-ray": (0.02, 0.38, 0.45, 0.95, 0.5, 0.12, 0.8),
    "CT": (0.0, 0.42, 0.55, 1.0, 0.22, 0.04, 0.85),
    "MRI": (0.0, 0.62, 0.42, 0.08, 0.95, 0.03, 0.18),
    "Ultrasound": (0.0, 0.42, 0.55, 0.95, 0.03, 0.85, 0.12),
}
_RGB = {
    "Fundus photography": (
        (0.02, 0.01, 0.0),
        (0.86, 0.42, 0.18),
        (0.72, 0.28, 0.1),
        (0.97, 0.88, 0.62),
        (0.42, 0.06, 0.04),
        (0.92, 0.55, 0.28),
        (0.99, 0.95, 0.5),
    ),
    "Microscopy": (
        (0.97, 0.94, 0.96),
        (0.93, 0.68, 0.8),
        (0.82, 0.52, 0.74),
        (0.5, 0.16, 0.45),
        (0.99, 0.92, 0.94),
        (0.98, 0.96, 0.97),
        (0.3, 0.12, 0.55),
    ),
}


@lru_cache(maxsize=8)
def _geometry(size: int) -> dict[str, np.ndarray]:
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size * 2.0 - 1.0
    y, x = np.meshgrid(axis, axis, indexing="ij")
    r = np.hypot(x, y)
    # ultrasound fan: apex above the image, 70 degree opening
    ay = y + 1.25
    ang = np.arctan2(x, ay)
    depth = np.hypot(x, ay)
    sector = (np.abs(ang) < np.deg2rad(35)) & (depth > 0.35) & (depth < 2.2)
    return {
        "fov": (r < 0.97).astype(np.float32),
        "vignette": np.clip(1.15 - 0.55 * r**2, 0, 1).astype(np.float32),
        "disc": (r < 0.98).astype(np.float32),
        "sector": sector.astype(np.float32),
        "depth": ((y + 1) / 2).astype(np.float32),
        "x": x,
        "y": y,
    }


def _to_u8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def render(modality: str, classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Render a class map; grey modalities return HxW uint8, colour ones HxWx3 uint8."""
    size = classes.shape[0]
    g = _geometry(size)
    if modality in _GREY:
        lut = np.asarray(_GREY[modality], dtype=np.float32)
        base = lut[classes]
        return _to_u8(_GREY_FORMATION[modality](base, classes, g, rng))
    lut = np.asarray(_RGB[modality], dtype=np.float32)
    base = lut[classes]  # HxWx3
    return _to_u8(_RGB_FORMATION[modality](base, classes, g, rng))


def _xray(base, classes, g, rng):
    # Projection radiograph: strong blur (overlapping structures), gain variation, quantum noise.
    img = ndimage.gaussian_filter(base, 1.1, mode="nearest")
    img = img * rng.uniform(0.85, 1.1) + rng.uniform(-0.04, 0.04)
    return img + rng.normal(0, 0.035, img.shape).astype(np.float32)


def _ct(base, classes, g, rng):
    # Reconstructed slice: sharp edges, circular field of view, fine Gaussian noise, window jitter.
    img = ndimage.gaussian_filter(base, 0.5, mode="nearest") * g["fov"]
    lo, hi = rng.uniform(-0.05, 0.05), rng.uniform(0.95, 1.1)
    img = (img - lo) / (hi - lo)
    return img + rng.normal(0, 0.05, img.shape).astype(np.float32)


def _mri(base, classes, g, rng):
    # Different tissue contrast (fluid bright, bone dark), smooth coil bias field, Rician noise.
    img = ndimage.gaussian_filter(base, 0.7, mode="nearest")
    a, b = rng.uniform(-0.35, 0.35, size=2)
    img = img * (1.0 + a * g["x"] + b * g["y"]).astype(np.float32)
    n1 = rng.normal(0, 0.05, img.shape)
    n2 = rng.normal(0, 0.05, img.shape)
    return np.sqrt((img + n1) ** 2 + n2**2).astype(np.float32)


def _ultrasound(base, classes, g, rng):
    # Echogenicity inside a fan, depth attenuation, posterior shadowing behind dense tissue and
    # enhancement behind fluid (accumulated down each column), multiplicative speckle.
    dense = (classes == 3).astype(np.float32)
    fluid = (classes == 4).astype(np.float32)
    shadow = np.cumsum(dense, axis=0) - dense
    enhance = np.cumsum(fluid, axis=0) - fluid
    img = base * np.exp(-0.25 * shadow) * (1.0 + 0.04 * np.minimum(enhance, 8))
    img = img * (1.0 - 0.45 * g["depth"])
    speckle = rng.rayleigh(0.8, img.shape).astype(np.float32)
    img = ndimage.uniform_filter(img * speckle, size=(1, 2), mode="nearest")
    return img * g["sector"]


def _fundus(base, classes, g, rng):
    # Colour photo of the retina: warm colour cast, vignetting, circular aperture, mild blur.
    img = ndimage.gaussian_filter(base, (0.8, 0.8, 0), mode="nearest")
    cast = rng.uniform(0.9, 1.1, size=3).astype(np.float32)
    img = img * cast * (g["vignette"] * g["disc"])[..., None]
    return img + rng.normal(0, 0.02, img.shape).astype(np.float32)


def _microscopy(base, classes, g, rng):
    # H&E-like staining: tissue scattered with haematoxylin nuclei, stain-intensity variation.
    size = classes.shape[0]
    nuclei = rng.random((size, size)) < 0.05
    nuclei &= classes != 0
    base = base.copy()
    base[nuclei] = (0.35, 0.15, 0.5)
    img = ndimage.gaussian_filter(base, (0.6, 0.6, 0), mode="nearest")
    strength = rng.uniform(0.8, 1.15)
    img = 1.0 - (1.0 - img) * strength
    return img + rng.normal(0, 0.02, img.shape).astype(np.float32)


_GREY_FORMATION = {"X-ray": _xray, "CT": _ct, "MRI": _mri, "Ultrasound": _ultrasound}
_RGB_FORMATION = {"Fundus photography": _fundus, "Microscopy": _microscopy}
assert set(_GREY) | set(_RGB) and len(_GREY[next(iter(_GREY))]) == N_CLASSES
