"""Safe image access shared by every stage: path confinement, decoding, hashing.

* Paths are confined to a dataset root: ``../``, absolute paths and symlinks that resolve
  outside the root are refused (a records table is data, and data must not read /etc/passwd).
* Pillow's decompression-bomb guard stays on (we never set ``Image.MAX_IMAGE_PIXELS = None``);
  a bomb raises :class:`MedmatError` naming the file.
* ``pixel_sha1`` hashes decoded pixels, so a PNG and a re-saved PNG of the same pixels match;
  ``phash`` is a 64-bit DCT perceptual hash that survives re-encoding and resizing.
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from medmat.errors import MedmatError


@functools.lru_cache(maxsize=64)
def _real_root(root: str) -> Path:
    # resolving the root once per process, not once per image, halves the cost of a call
    # (readers resolve thousands of images under the same root)
    return Path(root).resolve()


def resolve_under_root(root: str | Path, rel: str) -> Path:
    """Resolve ``rel`` under ``root`` and refuse anything that escapes it."""
    # keyed by the absolute path: a relative root means another folder after a chdir
    root_path = _real_root(os.path.abspath(root))
    if not rel or rel.strip() == "":
        raise MedmatError(f"empty image path (dataset root {root_path})")
    posix = PurePosixPath(rel.replace("\\", "/"))
    if posix.is_absolute() or Path(rel).is_absolute():
        raise MedmatError(
            f"{rel}: absolute image paths are refused; store paths relative to the dataset root "
            f"{root_path}"
        )
    if ".." in posix.parts:
        raise MedmatError(f"{rel}: image path escapes the dataset root {root_path} ('..' refused)")
    full = (root_path / Path(*posix.parts)).resolve()
    if not full.is_relative_to(root_path):
        raise MedmatError(
            f"{rel}: resolves to {full}, outside the dataset root {root_path} (symlink out refused)"
        )
    return full


def require_nonempty_file(path: Path, what: str = "file") -> None:
    """Missing and 0-byte files get the same messages from every reader (PNG, DICOM, NIfTI)."""
    if not path.exists():
        raise MedmatError(f"{path}: {what} not found")
    if path.stat().st_size == 0:
        raise MedmatError(f"{path}: empty file (0 bytes)")


def open_image(path: str | Path, mode: str | None = "RGB") -> Image.Image:
    """Open and fully decode an image; convert 16-bit, CMYK, palette and alpha to ``mode``.

    Raises MedmatError naming the file for missing, empty, truncated, non-image and
    decompression-bomb files.
    """
    path = Path(path)
    require_nonempty_file(path, "image file")
    try:
        with warnings.catch_warnings():
            # Pillow warns (not raises) between MAX_IMAGE_PIXELS and 2x that: treat as a bomb too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                return to_mode(img, mode) if mode else img.copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MedmatError(
            f"{path}: refused as a possible decompression bomb (more than "
            f"{Image.MAX_IMAGE_PIXELS} pixels); downscale the image first"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MedmatError(f"{path}: not a readable image ({exc})") from None


def to_mode(img: Image.Image, mode: str) -> Image.Image:
    """Convert any Pillow image to ``mode`` ('RGB' or 'L'), handling 16-bit, alpha, palette."""
    if img.mode == mode:
        return img.copy()
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = np.percentile(arr, [0.5, 99.5]) if arr.size else (0.0, 1.0)
        scaled = np.clip((arr - lo) / max(hi - lo, 1e-9), 0, 1) * 255
        img = Image.fromarray(scaled.astype(np.uint8), "L")
        return img if mode == "L" else img.convert(mode)
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", img.size, (0, 0, 0, 255))
        img = Image.alpha_composite(background, img.convert("RGBA"))
    return img.convert(mode)


def pixel_sha1(img: Image.Image) -> str:
    """Hash of decoded pixels (mode and size included), independent of file encoding."""
    h = hashlib.sha1()
    h.update(f"{img.mode}:{img.size[0]}x{img.size[1]}:".encode())
    h.update(img.tobytes())
    return h.hexdigest()


_DCT_N = 32


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m


_DCT = _dct_matrix(_DCT_N)


def phash(img: Image.Image, box: tuple[float, float, float, float] | None = None) -> int:
    """64-bit perceptual hash (DCT of a 32x32 grey thumbnail, 8x8 low frequencies vs median).

    ``box`` (left, upper, right, lower in pixels) hashes that region only, as if cropped.
    Returned as a signed int64 so it fits Arrow's int64 column.
    """
    thumb = to_mode(img, "L").resize((_DCT_N, _DCT_N), Image.Resampling.BILINEAR, box=box)
    grey = np.asarray(thumb, dtype=np.float64)
    coeffs = (_DCT @ grey @ _DCT.T)[:8, :8].ravel()
    bits = coeffs[1:] > np.median(coeffs[1:])  # skip DC: brightness shifts must not matter
    value = 0
    for b in np.concatenate([[False], bits]):
        value = (value << 1) | int(b)
    return value - (1 << 64) if value >= (1 << 63) else value

