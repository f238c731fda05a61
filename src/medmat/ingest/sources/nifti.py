"""NIfTI volumes (nibabel, optional extra ``medmat[dicom]``) -> 2D slices.

``--plane axial|coronal|sagittal`` means the anatomical plane, whatever the scanner's voxel
order: nibabel's ``io_orientation`` tells which voxel axis crosses the plane and which way each
axis runs, so the slice is cut from the *stored* voxel grid (only that slice is read, through
nibabel's array proxy) and then flipped / transposed into the radiological display convention of
:mod:`.volumes` (patient's left on the image's right, as DICOM shows it). ``--slice N`` counts
along the plane's normal in RAS order (0 = the most inferior axial, most posterior coronal, most
right sagittal slice); 4D volumes use their first time point.

Before any voxel is read the header's declared size (dims x bytes per voxel) is checked against
``--max-volume-mb``: a small ``.nii.gz`` can inflate to gigabytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from medmat.errors import MedmatError
from medmat.imaging import require_nonempty_file
from medmat.ingest.sources.volumes import (
    DEFAULT_MAX_VOLUME_MB,
    Direction,
    check_budget,
    check_size,
    require,
    to_display,
    to_uint8,
)

PLANE_AXIS = {"sagittal": 0, "coronal": 1, "axial": 2}  # RAS world axis normal to the plane


@dataclass(frozen=True)
class SliceGeometry:
    """Where a plane's slices sit in the stored voxel grid."""

    axis: int  # voxel axis crossing the plane
    flip: bool  # voxel order runs against RAS along that axis
    n: int  # number of slices
    rows: int  # voxel axis along the slice's rows
    cols: int  # voxel axis along the slice's columns
    right: Direction  # LPS direction of increasing column index
    down: Direction  # LPS direction of increasing row index


def open_nifti(path: Path, max_volume_mb: float = DEFAULT_MAX_VOLUME_MB) -> Any:
    """The image with its header read and its size checked; no voxel data is read."""
    nib = require("nibabel")
    require_nonempty_file(path)
    try:
        img = nib.load(str(path))
        shape = tuple(int(s) for s in img.shape)
        itemsize = img.header.get_data_dtype().itemsize
    except Exception as exc:  # noqa: BLE001 - nibabel raises many types for bad files
        raise MedmatError(
            f"{path}: not a readable NIfTI file ({type(exc).__name__}: {exc})"
        ) from None
    if len(shape) < 2:
        raise MedmatError(f"{path}: volume of shape {shape}; expected 3D (or 2D/4D)")
    check_budget(path, int(np.prod(shape, dtype=np.float64)) * itemsize, max_volume_mb)
    return img


def _shape3(img: Any) -> tuple[int, int, int]:
    return (tuple(int(s) for s in img.shape[:3]) + (1, 1))[:3]  # type: ignore[return-value]


def geometry(img: Any, plane: str) -> SliceGeometry:
    from nibabel.orientations import io_orientation

    shape3 = _shape3(img)
    ornt = io_orientation(img.affine)
    if np.isnan(ornt).any():  # a degenerate affine says nothing: take the voxel axes as RAS
        ornt = np.array([[0, 1], [1, 1], [2, 1]], dtype=float)
    axis = int(np.flatnonzero(ornt[:, 0] == PLANE_AXIS[plane])[0])
    rows, cols = (a for a in range(3) if a != axis)

    def lps(a: int) -> Direction:
        world, sign = int(ornt[a, 0]), int(ornt[a, 1])
        return world, (sign if world == 2 else -sign)  # RAS -> LPS flips x and y

    return SliceGeometry(axis, bool(ornt[axis, 1] < 0), shape3[axis], rows, cols,
                         right=lps(cols), down=lps(rows))


def _read_slice(img: Any, geo: SliceGeometry, k: int, path: Path) -> np.ndarray:
    voxel = geo.n - 1 - k if geo.flip else k
    sl: list[Any] = [slice(None)] * 3
    sl[geo.axis] = voxel
    try:
        if len(img.shape) == 2:
            data = np.asarray(img.dataobj)[:, :, None][tuple(sl)]
        else:
            data = img.dataobj[tuple(sl) + (0,) * (len(img.shape) - 3)]
    except Exception as exc:  # noqa: BLE001 - truncated data blocks
        raise MedmatError(f"{path}: cannot read voxel data ({type(exc).__name__}: {exc})") from None
    shape = _shape3(img)
    return np.asarray(data, dtype=np.float64).reshape(shape[geo.rows], shape[geo.cols])


def read_nifti(path: str | Path, *, plane: str = "axial", index: int | None = None,
               window: tuple[float, float] | None = None,
               max_volume_mb: float = DEFAULT_MAX_VOLUME_MB) -> Image.Image:
    """One slice of a NIfTI volume as an 8-bit greyscale image (radiological convention)."""
    path = Path(path)
    img = open_nifti(path, max_volume_mb)
    geo = geometry(img, plane)
    k = geo.n // 2 if index is None else index
    if not 0 <= k < geo.n:
        raise MedmatError(f"{path}: --slice {k} out of range ({plane} plane has {geo.n} slices)")
    shape3 = _shape3(img)
    check_size(path, shape3[geo.rows], shape3[geo.cols])
    data = to_display(_read_slice(img, geo, k, path), geo.right, geo.down, plane)
    return Image.fromarray(to_uint8(data, window), "L")


def _open_pair(mask_path: Path, volume: Path, max_volume_mb: float) -> tuple[Any, Any]:
    """(volume, mask), refused unless the mask lies on the volume's voxel grid."""
    img, mask = open_nifti(volume, max_volume_mb), open_nifti(mask_path, max_volume_mb)
    if tuple(mask.shape[:3]) != tuple(img.shape[:3]) or not np.allclose(
            mask.affine, img.affine, atol=1e-3):
        raise MedmatError(
            f"{mask_path}: the mask's voxel grid ({mask.shape[:3]}) does not match the volume "
            f"{volume.name} ({img.shape[:3]}, same affine required)"
        )
    return img, mask


def read_nifti_labels(mask_path: str | Path, volume: str | Path, *, plane: str = "axial",
                      index: int | None = None,
                      max_volume_mb: float = DEFAULT_MAX_VOLUME_MB) -> np.ndarray:
    """The label-volume slice aligned with ``read_nifti(volume, plane=, index=)``: integers.

    The slice is cut with the *image* volume's geometry and goes through the same display
    flips / transposes, so mask pixel (r, c) is image pixel (r, c) (no resampling anywhere).
    """
    mask_path, volume = Path(mask_path), Path(volume)
    img, mask = _open_pair(mask_path, volume, max_volume_mb)
    geo = geometry(img, plane)
    k = geo.n // 2 if index is None else index
    if not 0 <= k < geo.n:
        raise MedmatError(f"{volume}: --slice {k} out of range ({plane} plane has {geo.n} slices)")
    data = to_display(_read_slice(mask, geo, k, mask_path), geo.right, geo.down, plane)
    rounded = np.rint(data)
    if not np.array_equal(data, rounded):  # also refuses NaN
        raise MedmatError(f"{mask_path}: label volume has non-integer values; masks hold class "
                          "numbers (0 = background)")
    return rounded.astype(np.int64)


def mask_areas(mask_path: Path, volume: Path, plane: str,
               max_volume_mb: float = DEFAULT_MAX_VOLUME_MB) -> list[int]:
    """Non-zero mask voxels per slice of ``volume`` (in ``--slice`` order)."""
    img, mask = _open_pair(mask_path, volume, max_volume_mb)
    geo = geometry(img, plane)
    try:
        data = np.asanyarray(mask.dataobj)
    except Exception as exc:  # noqa: BLE001
        raise MedmatError(f"{mask_path}: cannot read the mask ({type(exc).__name__})") from None
    data = data.reshape(data.shape[:3] + (-1,))[..., 0] if data.ndim > 3 else data
    if data.ndim == 2:
        data = data[:, :, None]
    areas = np.count_nonzero(data, axis=(geo.rows, geo.cols)).tolist()
    return areas[::-1] if geo.flip else areas
