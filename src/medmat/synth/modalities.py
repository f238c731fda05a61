"""Image formation per modality: tissue-class map -> pixels.

Each modality has its own contrast (a value or colour per tissue class) and its own physics-like
formation and noise, so a finding's appearance always passes through the modality: a cyst is a
bright rim in CT, a bright core in MRI (fluid is bright on T2), an anechoic hole with posterior
enhancement in ultrasound, a dark-red spot on a fundus photo, a pale hole in stained tissue.
The general-domain "Photo" modality renders everyday scenes in natural colours; there a finding is
an object of a colour drawn per item, so only its shape says which label it is.
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
    if modality == "Photo":
        return _to_u8(_photo(classes, g, rng))
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


# general-domain photos: colours drawn per item (a scene has no fixed contrast)
_SKIES = (  # (top, horizon) colours: clear day, dusk, overcast
    ((0.3, 0.5, 0.88), (0.68, 0.8, 0.95)),
    ((0.32, 0.28, 0.52), (0.95, 0.62, 0.38)),
    ((0.58, 0.6, 0.64), (0.8, 0.81, 0.83)),
)
_GROUNDS = ((0.25, 0.5, 0.2), (0.45, 0.5, 0.25), (0.8, 0.7, 0.5), (0.45, 0.32, 0.2))
_OBJECTS = (  # saturated object colours; one is drawn per item, contrasting with the scene
    (0.85, 0.12, 0.1), (0.95, 0.5, 0.08), (0.45, 0.12, 0.6), (0.9, 0.2, 0.65),
    (0.98, 0.88, 0.1), (0.1, 0.15, 0.55), (0.05, 0.05, 0.05),
)


def _photo(classes, g, rng):
    # Colour photo of a scene: sky gradient, textured ground, soft lighting, lens blur, sensor
    # noise. The finding's colour is drawn per item, so what identifies a label is its shape
    # (the generic look of the finding), not a colour.
    top, low = (np.asarray(c, np.float32) for c in _SKIES[int(rng.integers(len(_SKIES)))])
    ground = np.asarray(_GROUNDS[int(rng.integers(len(_GROUNDS)))], np.float32)
    jitter = rng.uniform(-0.05, 0.05, size=(3, 3)).astype(np.float32)
    top, low, ground = top + jitter[0], low + jitter[1], ground + jitter[2]
    hills = ground * 0.7
    scene = np.stack([top, low, ground, hills])
    # the object colour farthest from every scene colour among a few draws keeps it visible
    draws = rng.permutation(len(_OBJECTS))[:4]
    obj = max((np.asarray(_OBJECTS[i], np.float32) for i in draws),
              key=lambda c: float(np.min(np.linalg.norm(scene - c, axis=1))))
    # BACKGROUND, SOFT, ORGAN, DENSE, FLUID, AIRSPACE, LESION: dense findings (calcification
    # dots) take the object colour too, a cyst's fluid core is a pale version of it
    lut = np.stack([top, ground, hills, obj, 0.5 * obj + 0.5, np.full(3, 0.96, np.float32), obj])
    base = lut[classes]
    sky = classes == 0
    t = np.clip((g["y"] + 1.0) / 1.4, 0.0, 1.0)[..., None]  # 0 at the top, 1 near the horizon
    base[sky] = (top * (1 - t) + low * t)[sky]
    texture = ndimage.gaussian_filter(rng.normal(0, 1, classes.shape), 1.5).astype(np.float32)
    textured = (classes == 1) | (classes == 2)
    base[textured] *= (1.0 + 0.25 * texture[textured])[:, None]
    img = ndimage.gaussian_filter(base, (0.6, 0.6, 0), mode="nearest")
    img = img * rng.uniform(0.85, 1.1) * rng.uniform(0.95, 1.05, size=3).astype(np.float32)
    return img + rng.normal(0, 0.02, img.shape).astype(np.float32)


_GREY_FORMATION = {"X-ray": _xray, "CT": _ct, "MRI": _mri, "Ultrasound": _ultrasound}
_RGB_FORMATION = {"Fundus photography": _fundus, "Microscopy": _microscopy}
assert set(_GREY) | set(_RGB) and len(_GREY[next(iter(_GREY))]) == N_CLASSES
