"""Decode, resize and cache item images as uint8 tensors (no torchvision).

The experiment runner trains several arms on overlapping images; caching decoded images per
(root, size) means each PNG is decoded once per process.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from medmat.imaging import open_image, resolve_under_root

_CACHE: dict[tuple[str, int], dict[str, np.ndarray]] = {}


def load_image_array(root: Path, rel: str, size: int) -> np.ndarray:
    """RGB uint8 array (3, size, size) of the image at ``rel`` under ``root``."""
    img = open_image(resolve_under_root(root, rel), mode="RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1).copy()


def image_batch(root: Path, paths: Sequence[str], size: int) -> torch.Tensor:
    """Stack images into a uint8 tensor (N, 3, size, size), decoding each file at most once."""
    cache = _CACHE.setdefault((str(Path(root).resolve()), size), {})
    arrays = []
    for rel in paths:
        arr = cache.get(rel)
        if arr is None:
            arr = cache[rel] = load_image_array(root, rel, size)
        arrays.append(arr)
    if not arrays:
        return torch.zeros((0, 3, size, size), dtype=torch.uint8)
    return torch.from_numpy(np.stack(arrays))

