"""DICOM decoding (pydicom, optional extra ``medmat[dicom]``).

Order of operations, as a radiology viewer does it: stored values -> Rescale Slope/Intercept
(modality LUT) -> window centre/width from ``--window`` or the file (first value when several),
else the 0.5-99.5 percentile range -> MONOCHROME1 inverted (high values are dark) -> 8-bit.
Multi-frame files give one frame: ``--frame N`` (0-based), default the middle frame.
Colour (RGB) DICOM is kept as colour.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from medmat.errors import MedmatError
from medmat.imaging import require_nonempty_file
from medmat.ingest.sources.volumes import check_size, require, to_uint8


def _first(value: object) -> float:
    try:
        return float(value[0])  # type: ignore[index]
    except TypeError:
        return float(value)  # type: ignore[arg-type]


def file_window(ds: object) -> tuple[float, float] | None:
    centre, width = getattr(ds, "WindowCenter", None), getattr(ds, "WindowWidth", None)
    if centre is None or width is None:
        return None
    try:
        c, w = _first(centre), _first(width)
    except (TypeError, ValueError, IndexError):
        return None
    return (c, w) if w > 0 else None


def _pixels(ds: object, index: int | None) -> np.ndarray:
    """Decode one frame only where pydicom can (3.x), so a long cine loop is not all in memory."""
    try:
        from pydicom.pixels import pixel_array
    except ImportError:  # pydicom 2.x
        arr = ds.pixel_array  # type: ignore[attr-defined]
        return arr if index is None else arr[index]
    return pixel_array(ds, index=index)


def read_dicom(path: Path, *, frame: int | None = None,
               window: tuple[float, float] | None = None) -> Image.Image:
    pydicom = require("pydicom")
    from pydicom.errors import InvalidDicomError

    require_nonempty_file(path)
    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError:
        raise MedmatError(f"{path}: not a DICOM file (no 'DICM' header)") from None
    except Exception as exc:  # noqa: BLE001 - truncated files fail in many ways
        raise MedmatError(f"{path}: unreadable DICOM ({type(exc).__name__}: {exc})") from None
    if "PixelData" not in ds:
        raise MedmatError(f"{path}: DICOM file without pixel data (a report or a DICOMDIR?)")
    check_size(path, int(ds.get("Rows", 0)), int(ds.get("Columns", 0)))
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    index = None
    if n_frames > 1:
        index = n_frames // 2 if frame is None else frame
        if not 0 <= index < n_frames:
            raise MedmatError(f"{path}: --frame {index} out of range (the file has {n_frames})")
    try:
        arr = _pixels(ds, index)
    except Exception as exc:  # noqa: BLE001
        raise MedmatError(
            f"{path}: cannot decode the pixel data ({type(exc).__name__}: {exc}); compressed "
            "transfer syntaxes need pylibjpeg or gdcm"
        ) from None
    if samples == 3:
        rgb = arr if arr.dtype == np.uint8 else to_uint8(arr, None)
        return Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    values = arr.astype(np.float64) * float(ds.get("RescaleSlope", 1) or 1) + float(
        ds.get("RescaleIntercept", 0) or 0
    )
    grey = to_uint8(values, window or file_window(ds))
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        grey = 255 - grey
    return Image.fromarray(grey, "L")
