"""Helpers shared by the DICOM and NIfTI decoders: the optional-extra import and windowing."""

from __future__ import annotations

import importlib
from types import ModuleType

import numpy as np
from PIL import Image

from medmat.errors import MedmatError


def require(module: str) -> ModuleType:
    """Import an optional dependency or say exactly how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MedmatError(
            f"this format needs the optional package {module!r}; install it with "
            "`pip install 'medmat[dicom]'`"
        ) from None


def to_uint8(arr: np.ndarray, window: tuple[float, float] | None) -> np.ndarray:
    """Window (centre, width) when given, else the 0.5-99.5 percentile range, scaled to 0..255."""
    arr = np.nan_to_num(np.asarray(arr, dtype=np.float64))
    if window is not None:
        centre, width = window
        lo, hi = centre - width / 2.0, centre + width / 2.0
    elif arr.size:
        lo, hi = np.percentile(arr, [0.5, 99.5])
    else:
        lo, hi = 0.0, 1.0
    scaled = np.clip((arr - lo) / max(hi - lo, 1e-9), 0.0, 1.0) * 255.0
    return np.rint(scaled).astype(np.uint8)


def check_size(path: object, rows: int, cols: int) -> None:
    """Same decompression-bomb limit as Pillow's, checked from the header before decoding."""
    if rows * cols > (Image.MAX_IMAGE_PIXELS or float("inf")):
        raise MedmatError(
            f"{path}: refused as a possible decompression bomb ({rows}x{cols} pixels, more than "
            f"{Image.MAX_IMAGE_PIXELS}); downscale the image first"
        )
