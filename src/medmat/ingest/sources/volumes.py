"""Helpers shared by the DICOM and NIfTI decoders: the optional-extra import, windowing, the
resource budget, the display convention and the ``--slices`` rules.

Display convention (one for both formats): **radiological**. Axial and coronal slices are shown
as if facing the patient (axial: from the feet), so the patient's left is on the image's right;
axial has anterior up, coronal and sagittal have superior up, and sagittal has anterior on the
left. This is how DICOM axial images are normally stored; NIfTI volumes (whatever their voxel
order) and DICOM files whose orientation says otherwise are flipped / transposed into it.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from PIL import Image

from medmat.errors import MedmatError

DEFAULT_MAX_VOLUME_MB = 512
MB = 1 << 20

# Patient axes in DICOM's LPS frame: 0 = x (+ toward the patient's Left), 1 = y (+ Posterior),
# 2 = z (+ Superior). A direction is (axis, sign).
Direction = tuple[int, int]
# (image right, image down) for each plane in the radiological convention.
DISPLAY: dict[str, tuple[Direction, Direction]] = {
    "axial": ((0, 1), (1, 1)),  # right = patient left, down = posterior
    "coronal": ((0, 1), (2, -1)),  # right = patient left, down = inferior
    "sagittal": ((1, 1), (2, -1)),  # right = posterior (anterior on the left), down = inferior
}
PLANE_OF_NORMAL = {2: "axial", 1: "coronal", 0: "sagittal"}
GROUP_BY = ("auto", "patient", "study", "series", "volume", "folder", "none")


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
    return scale_uint8(arr, lo, hi)


def scale_uint8(arr: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map [lo, hi] linearly onto 0..255 (clipped, rounded)."""
    scaled = np.clip((np.asarray(arr, dtype=np.float64) - lo) / max(hi - lo, 1e-9), 0.0, 1.0)
    return np.rint(scaled * 255.0).astype(np.uint8)


def check_size(path: object, rows: int, cols: int) -> None:
    """Same decompression-bomb limit as Pillow's, checked from the header before decoding."""
    if rows * cols > (Image.MAX_IMAGE_PIXELS or float("inf")):
        raise MedmatError(
            f"{path}: refused as a possible decompression bomb ({rows}x{cols} pixels, more than "
            f"{Image.MAX_IMAGE_PIXELS}); downscale the image first"
        )


def check_budget(path: object, nbytes: int, budget_mb: float) -> None:
    """Refuse a volume whose header declares more decoded bytes than ``--max-volume-mb``
    (MB = 2**20 bytes). Checked from the header, before any voxel is inflated: a 5 MB
    ``.nii.gz`` can hold 1 GB."""
    if nbytes > budget_mb * MB:
        raise MedmatError(
            f"{path}: its header declares {nbytes / MB:,.0f} MB of decoded pixels, over the "
            f"--max-volume-mb budget of {budget_mb:,.0f} MB; raise --max-volume-mb if the file "
            "is genuine"
        )


# ------------------------------------------------------------------------ display convention
def dominant(vector: Sequence[float]) -> Direction | None:
    """The patient axis a direction cosine vector mostly follows, or None when degenerate."""
    v = np.asarray(vector, dtype=np.float64)
    if v.shape != (3,) or not np.all(np.isfinite(v)) or not v.any():
        return None
    axis = int(np.argmax(np.abs(v)))
    return axis, 1 if v[axis] > 0 else -1


def plane_of(right: Direction, down: Direction) -> str | None:
    """The anatomical plane spanned by two in-plane directions (None if they coincide)."""
    if right[0] == down[0]:
        return None
    return PLANE_OF_NORMAL[3 - right[0] - down[0]]


def to_display(arr: np.ndarray, right: Direction, down: Direction, plane: str) -> np.ndarray:
    """Flip / transpose a slice (rows x cols [x channels]) into the radiological convention.

    ``right`` is where increasing column index points in the patient, ``down`` where increasing
    row index points (LPS axes). Only exact 90-degree operations: no resampling.
    """
    want_right, want_down = DISPLAY[plane]
    if right[0] != want_right[0]:  # columns run along the wanted vertical axis: transpose
        arr = np.swapaxes(arr, 0, 1)
        right, down = down, right
    if right[1] != want_right[1]:
        arr = arr[:, ::-1]
    if down[1] != want_down[1]:
        arr = arr[::-1]
    return np.ascontiguousarray(arr)


# ------------------------------------------------------------------------------ --slices
@dataclass(frozen=True)
class SliceRule:
    """``middle``, ``every:K`` (every K-th), ``even:N`` (N evenly spaced) or ``mask:N`` (the N
    slices where a mask covers most pixels)."""

    kind: str
    n: int = 1

    @property
    def single(self) -> bool:
        return self.kind == "middle"


_RULE = re.compile(r"^(middle|every|even|mask)(?::(\d+))?$")


def parse_slices(text: str) -> SliceRule:
    match = _RULE.match(text.strip().lower())
    if not match or (match.group(1) == "middle") != (match.group(2) is None):
        raise MedmatError(
            f"--slices {text!r}: use middle, every:K (every K-th slice), even:N (N evenly "
            "spaced) or mask:N (the N slices where the mask is largest)"
        )
    n = int(match.group(2) or 1)
    if n < 1:
        raise MedmatError(f"--slices {text!r}: the number must be at least 1")
    return SliceRule(match.group(1), n)


def pick_slices(n: int, rule: SliceRule, areas: Sequence[int] | None = None) -> list[int]:
    """Slice indices (0-based, ascending) that ``rule`` takes from ``n`` slices."""
    if n < 1:
        return []
    if rule.kind == "middle":
        return [n // 2]
    if rule.kind == "every":
        start = ((n - 1) % rule.n) // 2  # centre the picks in the volume
        return list(range(start, n, rule.n))
    if rule.kind == "even":
        if rule.n >= n:
            return list(range(n))
        return sorted({int((i + 0.5) * n / rule.n) for i in range(rule.n)})
    if areas is None or len(areas) != n:
        raise ValueError("mask rule needs one area per slice")
    covered = [k for k in range(n) if areas[k] > 0]
    covered.sort(key=lambda k: (-areas[k], k))
    return sorted(covered[: rule.n])


def check_volume_options(opts: Any) -> None:
    """The volume options of an :class:`~medmat.ingest.options.IngestOptions`, checked early."""
    rule = parse_slices(opts.slices)
    if opts.group_by not in GROUP_BY:
        raise MedmatError(f"--group-by {opts.group_by!r}: use one of {', '.join(GROUP_BY)}")
    if opts.group_by != "auto" and opts.group_column:
        raise MedmatError("--group-by and --group-column both name the groups; give one")
    budget = opts.max_volume_mb
    if isinstance(budget, bool) or not isinstance(budget, int | float) or not budget > 0:
        raise MedmatError(f"--max-volume-mb {budget!r}: use a positive number of megabytes")
    if not rule.single and (opts.frame is not None or opts.slice_index is not None):
        raise MedmatError(f"--slices {opts.slices} and --frame/--slice both choose slices; "
                          "give one")
    if rule.kind == "mask" and not opts.mask_pattern:
        raise MedmatError("--slices mask:N needs --mask-pattern (e.g. '{stem}_seg.nii.gz')")
