"""NIfTI volumes (nibabel, optional extra ``medmat[dicom]``) -> one 2D slice each.

The volume is first reoriented to the closest canonical (RAS+) orientation, so ``--plane
axial|coronal|sagittal`` means the anatomical plane whatever the scanner's voxel order. The
slice is ``--slice N`` (0-based) or the middle one; 4D volumes use their first time point. The
slice is rotated so superior / anterior is up, then intensities are windowed (``--window``) or
normalised to the 0.5-99.5 percentile range.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from medmat.errors import MedmatError
from medmat.imaging import require_nonempty_file
from medmat.ingest.sources.volumes import check_size, require, to_uint8

PLANE_AXIS = {"sagittal": 0, "coronal": 1, "axial": 2}


def read_nifti(path: Path, *, plane: str = "axial", index: int | None = None,
               window: tuple[float, float] | None = None) -> Image.Image:
    nib = require("nibabel")
    require_nonempty_file(path)
    try:
        img = nib.as_closest_canonical(nib.load(str(path)))
        shape = img.shape
    except Exception as exc:  # noqa: BLE001 - nibabel raises many types for bad files
        raise MedmatError(
            f"{path}: not a readable NIfTI file ({type(exc).__name__}: {exc})"
        ) from None
    if len(shape) < 2:
        raise MedmatError(f"{path}: volume of shape {shape}; expected 3D (or 2D/4D)")
    shape3 = tuple(shape[:3]) + (1,) * (3 - len(shape[:3]))
    axis = PLANE_AXIS[plane]
    n = shape3[axis]
    k = n // 2 if index is None else index
    if not 0 <= k < n:
        raise MedmatError(f"{path}: --slice {k} out of range ({plane} plane has {n} slices)")
    other = [shape3[a] for a in range(3) if a != axis]
    check_size(path, other[0], other[1])
    sl: list[object] = [slice(None)] * 3
    sl[axis] = k
    try:
        data = np.asarray(img.dataobj[tuple(sl) + (0,) * (len(shape) - 3)]) if len(shape) >= 3 \
            else np.asarray(img.dataobj)
    except Exception as exc:  # noqa: BLE001 - truncated data blocks
        raise MedmatError(f"{path}: cannot read voxel data ({type(exc).__name__}: {exc})") from None
    data = np.rot90(np.asarray(data, dtype=np.float64).reshape(other))
    return Image.fromarray(np.ascontiguousarray(to_uint8(data, window)), "L")
