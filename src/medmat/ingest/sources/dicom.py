"""DICOM decoding through pydicom's own pixel pipeline (optional extra ``medmat[dicom]``).

For the one frame that is ingested (``--frame N`` / ``--slices``, default the middle one):

1. pydicom decodes that frame only (native, RLE, and with the extra's decoders JPEG Baseline,
   Extended 12-bit and Lossless, JPEG-LS and JPEG 2000); YBR colour comes out as RGB.
2. PALETTE COLOR images go through their colour palette (``apply_color_lut``) to RGB.
3. Greyscale: the modality LUT (``apply_modality_lut``: Rescale Slope/Intercept or a Modality
   LUT Sequence) gives output units (Hounsfield units for CT). Then ``--window C,W`` *in those
   units* (linear), else the file's VOI LUT or window with its VOI LUT Function
   (``apply_voi_lut``), else the 0.5-99.5 percentile range. MONOCHROME1 (or a Presentation LUT
   Shape of INVERSE) is inverted so that dense is bright as usual.
4. Enhanced multi-frame objects keep rescale, window and orientation in the Shared and
   Per-frame Functional Groups; the frame's own values override the top level.
5. The slice is put in the display convention of :mod:`.volumes` (radiological) when the file
   states its orientation.

A file without the 128-byte preamble and ``DICM`` marker is read with ``force=True`` when it
parses as an image dataset. Messages tell a truncated file from a missing decoder.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from medmat.errors import MedmatError
from medmat.imaging import require_nonempty_file
from medmat.ingest.sources.volumes import (
    DEFAULT_MAX_VOLUME_MB,
    check_budget,
    check_size,
    dominant,
    plane_of,
    require,
    scale_uint8,
    to_display,
    to_uint8,
)

INSTALL = "`pip install 'medmat[dicom]'` (pylibjpeg, pylibjpeg-libjpeg, pylibjpeg-openjpeg)"
# Frame-level values: copied from the top level, then overridden by the functional groups.
_TOP_LEVEL = (
    "PhotometricInterpretation", "SamplesPerPixel", "BitsAllocated", "BitsStored",
    "PixelRepresentation", "RescaleSlope", "RescaleIntercept", "RescaleType",
    "ModalityLUTSequence", "WindowCenter", "WindowWidth", "VOILUTFunction", "VOILUTSequence",
    "PresentationLUTShape", "ImageOrientationPatient",
)
_FUNCTIONAL = ("PixelValueTransformationSequence", "FrameVOILUTSequence",
               "PlaneOrientationSequence")


@contextmanager
def _quiet() -> Iterator[None]:
    # pydicom warns about every odd value in real files; the ingest report names real problems.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(over="ignore", invalid="ignore"):
            yield


def _forced(path: Path, kwargs: dict[str, Any]) -> Any | None:
    """Read a file without the DICM preamble; None unless it parses as an image dataset."""
    import pydicom

    try:
        ds = pydicom.dcmread(path, force=True, **kwargs)
        image = all(isinstance(ds.get(k), int) for k in ("Rows", "Columns", "BitsAllocated"))
        if not image and not str(ds.get("SOPClassUID", "")).startswith("1.2.840.10008."):
            return None
    except Exception:  # noqa: BLE001 - forced parsing of arbitrary bytes fails in many ways
        return None
    if "TransferSyntaxUID" not in ds.file_meta:
        # No File Meta header: the encoding pydicom detected names the (native) syntax.
        from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

        implicit, little = ds.original_encoding
        if "PixelData" in ds and ds["PixelData"].is_undefined_length:
            raise MedmatError(
                f"{path}: compressed DICOM pixel data without a File Meta header naming its "
                "transfer syntax; re-export the file with a header"
            )
        ds.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit else
            ExplicitVRLittleEndian if little else ExplicitVRBigEndian
        )
    return ds


def open_dicom(path: Path, *, header_only: bool = False) -> Any:
    """The dataset (pixel data deferred, or left out with ``header_only``) or MedmatError."""
    pydicom = require("pydicom")
    from pydicom.errors import InvalidDicomError

    require_nonempty_file(path)
    kwargs: dict[str, Any] = {"stop_before_pixels": True} if header_only else {
        "defer_size": "256 KB"}
    with warnings.catch_warnings(record=True) as caught, np.errstate(over="ignore"):
        warnings.simplefilter("always")
        try:
            ds = pydicom.dcmread(path, **kwargs)
        except InvalidDicomError:
            ds = _forced(path, kwargs)
            if ds is None:
                raise MedmatError(
                    f"{path}: not a DICOM file (no 'DICM' header, and it does not parse as a "
                    "DICOM image without one)"
                ) from None
        except Exception as exc:  # noqa: BLE001 - truncated headers fail in many ways
            raise MedmatError(
                f"{path}: truncated or corrupt DICOM header ({type(exc).__name__}: {exc})"
            ) from None
    if "TransferSyntaxUID" not in ds.file_meta:
        raise MedmatError(f"{path}: DICOM File Meta header without a Transfer Syntax UID")
    if not header_only and "PixelData" not in ds and any(
            "End of file reached" in str(w.message) for w in caught):
        # pydicom drops an encapsulated (compressed) Pixel Data element cut short by the end
        raise MedmatError(
            f"{path}: truncated DICOM file: it ends inside its pixel data; copy the file again "
            "from its source"
        )
    return ds


def n_frames(ds: Any, path: Path) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        raise MedmatError(
            f"{path}: Number of Frames is {ds.get('NumberOfFrames')!r}, not a number"
        ) from None


def frame_view(ds: Any, index: int | None) -> Any:
    """A small dataset with the frame's own pixel-value, window and orientation attributes."""
    from pydicom.dataset import Dataset

    view = Dataset()
    view.file_meta = ds.file_meta  # LUT data in OW needs the transfer syntax's endianness
    for keyword in _TOP_LEVEL:
        if keyword in ds:
            view[ds[keyword].tag] = copy.copy(ds[keyword])  # pydicom casts values in place
    items = []
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        items.append(shared[0])
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    k = index or 0
    if per_frame and k < len(per_frame):
        items.append(per_frame[k])  # applied last: the frame's own values win
    for item in items:
        for seq in _FUNCTIONAL:
            if item.get(seq):
                for elem in item[seq][0]:
                    view[elem.tag] = copy.copy(elem)
    return view


def _decode(ds: Any, path: Path, index: int | None) -> np.ndarray:
    from pydicom.pixels import pixel_array
    from pydicom.pixels.decoders.base import get_decoder
    from pydicom.pixels.utils import get_expected_length

    ts = ds.file_meta.TransferSyntaxUID
    if not ts.is_compressed:
        expected, actual = get_expected_length(ds, "bytes"), len(ds.PixelData)
        if actual < expected:
            raise MedmatError(
                f"{path}: truncated DICOM file: the pixel data has {actual} of the {expected} "
                "bytes its header declares; copy the file again from its source"
            )
    try:
        decoder = get_decoder(ts)
    except NotImplementedError:
        raise MedmatError(
            f"{path}: pixel data in transfer syntax {ts} ({ts.name}), which pydicom cannot "
            "decode; convert the file to an uncompressed syntax (e.g. `gdcmconv --raw`)"
        ) from None
    if not decoder.is_available:
        raise MedmatError(
            f"{path}: no decoder installed for {ts.name} pixel data; install pydicom's "
            f"decoders with {INSTALL}"
        )
    try:
        return pixel_array(ds, index=index)
    except Exception as exc:  # noqa: BLE001 - decoder plugins raise anything on bad data
        raise MedmatError(
            f"{path}: cannot decode the {ts.name} pixel data although a decoder is installed; "
            f"the file is probably truncated or corrupt ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None


def _file_voi(values: np.ndarray, view: Any) -> np.ndarray | None:
    """The file's VOI LUT or window (with its VOI LUT Function) scaled to 8 bits, or None."""
    from pydicom.pixels import apply_voi_lut

    has_lut = bool(view.get("VOILUTSequence"))
    if not has_lut and not ("WindowCenter" in view and "WindowWidth" in view):
        return None
    try:
        out = apply_voi_lut(values, view, prefer_lut=True)
        if has_lut:
            lo, hi = 0.0, 2.0 ** int(view.VOILUTSequence[0].LUTDescriptor[2]) - 1
        else:
            # The window's output range: what it maps -inf and +inf to (any VOI LUT Function).
            lo, hi = apply_voi_lut(np.array([-1e300, 1e300]), view, prefer_lut=False).tolist()
    except (ValueError, TypeError, AttributeError, IndexError, KeyError):
        return None  # an invalid window (width < 1, no value...): use the percentile range
    return scale_uint8(out, lo, hi) if hi > lo else None


def _grey(arr: np.ndarray, view: Any, window: tuple[float, float] | None) -> np.ndarray:
    from pydicom.pixels import apply_modality_lut

    values = apply_modality_lut(arr, view)
    grey = to_uint8(values, window) if window is not None else _file_voi(values, view)
    if grey is None:
        grey = to_uint8(values, None)
    pi = str(view.get("PhotometricInterpretation", "")).upper()
    if pi == "MONOCHROME1" or str(view.get("PresentationLUTShape", "")).upper() == "INVERSE":
        grey = 255 - grey
    return grey


def _colour(arr: np.ndarray, ds: Any) -> np.ndarray:
    from pydicom.pixels import apply_color_lut

    pi = str(ds.get("PhotometricInterpretation", "")).upper()
    if pi == "PALETTE COLOR":
        arr = apply_color_lut(arr, ds)
        bits = 8 * arr.dtype.itemsize
    else:
        bits = int(ds.get("BitsStored", 8 * arr.dtype.itemsize) or 8)
    if arr.dtype == np.uint8:
        return arr
    return scale_uint8(arr, 0.0, 2.0**bits - 1)


def _orient(arr: np.ndarray, view: Any) -> np.ndarray:
    iop = view.get("ImageOrientationPatient")
    if iop is None or len(iop) != 6:
        return arr
    right, down = dominant([float(v) for v in iop[:3]]), dominant([float(v) for v in iop[3:]])
    plane = plane_of(right, down) if right and down else None
    return to_display(arr, right, down, plane) if plane else arr


def read_dicom(path: str | Path, *, frame: int | None = None,
               window: tuple[float, float] | None = None,
               max_volume_mb: float = DEFAULT_MAX_VOLUME_MB) -> Image.Image:
    """One frame of a DICOM file as an 8-bit greyscale or RGB image."""
    with _quiet():
        return _read(Path(path), frame, window, max_volume_mb)


def _read(path: Path, frame: int | None, window: tuple[float, float] | None,
          max_volume_mb: float) -> Image.Image:
    ds = open_dicom(path)
    if "PixelData" not in ds:
        raise MedmatError(f"{path}: DICOM file without pixel data (a report or a DICOMDIR?)")
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        bits = int(ds.BitsAllocated)
    except (AttributeError, TypeError, ValueError) as exc:
        raise MedmatError(f"{path}: DICOM image attributes missing or invalid ({exc})") from None
    frames = n_frames(ds, path)
    check_size(path, rows, cols)
    check_budget(path, rows * cols * samples * frames * max(bits, 8) // 8, max_volume_mb)
    index = None
    if frames > 1:
        index = frames // 2 if frame is None else frame
        if not 0 <= index < frames:
            raise MedmatError(f"{path}: --frame {index} out of range (the file has {frames})")
    arr = _decode(ds, path, index)
    view = frame_view(ds, index)
    pi = str(view.get("PhotometricInterpretation", "")).upper()
    if arr.ndim == 3 or pi == "PALETTE COLOR":
        out, mode = _colour(arr, ds), "RGB"
    else:
        out, mode = _grey(arr, view, window), "L"
    return Image.fromarray(_orient(out, view), mode)


def group_tags(ds: Any) -> dict[str, str]:
    """Patient / study / series identifiers of a dataset (empty values left out)."""
    out = {}
    for key, keyword in (("patient", "PatientID"), ("study", "StudyInstanceUID"),
                         ("series", "SeriesInstanceUID")):
        value = str(ds.get(keyword, "") or "").strip()
        if value:
            out[key] = value
    return out


def frame_areas(mask_path: Path, frames: int,
                max_volume_mb: float = DEFAULT_MAX_VOLUME_MB) -> list[int]:
    """Non-zero mask pixels per frame of a multi-frame DICOM mask with ``frames`` frames."""
    from pydicom.pixels import pixel_array

    with _quiet():
        ds = open_dicom(mask_path)
        if "PixelData" not in ds or n_frames(ds, mask_path) != frames:
            raise MedmatError(
                f"{mask_path}: the mask needs pixel data with {frames} frame(s), one per frame "
                "of its volume"
            )
        rows, cols = int(ds.Rows), int(ds.Columns)
        check_budget(mask_path, rows * cols * frames * max(int(ds.BitsAllocated), 8) // 8,
                     max_volume_mb)
        try:
            arr = pixel_array(ds)
        except Exception as exc:  # noqa: BLE001
            raise MedmatError(f"{mask_path}: cannot decode the mask ({type(exc).__name__}: "
                              f"{exc})") from None
    arr = arr.reshape(frames, rows, cols, -1)
    return np.count_nonzero(arr, axis=(1, 2, 3)).tolist()
