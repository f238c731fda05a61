"""Second stage of near-duplicate detection: is a hash candidate really the same picture?

Perceptual hashes only *propose* pairs; images of one modality and anatomy hash alike, so the
pixels decide. Both images become grey thumbnails of the same side (64 px, or the smaller
image's side when below that; area-averaged) and are compared by the Pearson correlation of
their **detail** (the thumbnail minus a Gaussian blur of 1.5 px): texture, noise and edges are
what tell one scan from a look-alike of the same anatomy, and what a re-encode or a resize keeps.

For a crop, the larger-field image is first registered to the other: every translation within
6% of the image side at box sizes of 98-102% of a seed box (the centred 95% box for crop
candidates, else the whole frame) by normalised cross-correlation of band-passed thumbnails
(a broad peak), a sub-pixel parabola fit, then a pattern search on the detail down to 1/8
pixel. Pairs whose coarse peak is below :data:`REFINE_FLOOR` are not refined (not copies).

Blank (flat) images have no detail: two are the same when their grey levels agree.
:data:`DEFAULT_MIN_SIMILARITY` is calibrated by ``benchmarks/bench_neardup.py`` (docs/leakage.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

from medmat.imaging import phash, to_mode

WORK = 64  # side of the compared thumbnails (smaller when an image is smaller)
MIN_WORK = 16  # images smaller than this are compared at this side anyway
SIGMA = 1.5  # the blur whose residual is the "detail"
SEED_SCALES = (0.98, 1.0, 1.02)  # box sizes tried around a registration seed
MARGIN = 0.06  # translations tried around it, as a share of the image side
REFINE_FLOOR = 0.5  # coarse (band-pass) peak below this: not a copy, not refined
CROP_SCALE = 0.95  # crop-candidate boxes: 95% of each side, at 4 x 4 positions
CROP_GRID = (0.0, 1 / 3, 2 / 3, 1.0)
HASH_SIDE = 256  # crop hashes are taken on the image area-reduced to this side at most
FLAT_LEVELS = 4.0  # two blank images match when their grey levels differ by at most this
DEFAULT_MIN_SIMILARITY = 0.5  # calibrated by benchmarks/bench_neardup.py (docs/leakage.md)

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Picture:
    """One image reduced for comparison (grey, longest side at most 2 x WORK; about 100 KB)."""

    grey: Image.Image  # 'F' mode, area-averaged
    side: int  # the smaller side of the original image
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def views(self, size: int) -> tuple[np.ndarray | None, np.ndarray | None, float]:
        """(unit thumbnail, unit detail, mean grey level) at ``size``; None parts when flat."""
        if size not in self._cache:
            thumb = _thumb(self.grey, size)
            self._cache[size] = (_unit(thumb), _detail(thumb), float(thumb.mean()))
        return self._cache[size]


def _unit(arr: np.ndarray) -> np.ndarray | None:
    flat = np.asarray(arr, dtype=np.float64).ravel()
    flat = flat - flat.mean()
    norm = float(np.linalg.norm(flat))
    return flat / norm if norm > 1e-6 * flat.size else None


def _thumb(grey: Image.Image, size: int, box: Box | None = None) -> np.ndarray:
    return np.asarray(grey.resize((size, size), Image.Resampling.BOX, box=box), np.float64)


def _blur(arr: np.ndarray, sigma: float) -> np.ndarray:
    # imported here: importing medmat.leakage (the exact guard, at ingest) stays light
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(arr, sigma, mode="nearest")


def _detail(thumb: np.ndarray) -> np.ndarray | None:
    return _unit(thumb - _blur(thumb, SIGMA))


def _band(arr: np.ndarray) -> np.ndarray:
    """Band-pass (difference of Gaussians): a broad correlation peak for the coarse search."""
    return _blur(arr, 1.0) - _blur(arr, 3.0)


def picture(img: Image.Image) -> Picture:
    grey = to_mode(img, "L")
    side = min(grey.size)
    scale = 2 * WORK / max(grey.size)
    if scale < 1:
        grey = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
                           Image.Resampling.BOX)
    return Picture(Image.fromarray(np.asarray(grey, dtype=np.float32), "F"), side)


def crop_boxes(width: int, height: int, grid: tuple[float, ...] = CROP_GRID) -> list[Box]:
    """The boxes (95% of each side, at ``grid`` x ``grid`` positions: 16 by default) whose
    hashes find cropped copies of an image."""
    cw, ch = CROP_SCALE * width, CROP_SCALE * height
    return [(fx * (width - cw), fy * (height - ch), fx * (width - cw) + cw,
             fy * (height - ch) + ch) for fy in grid for fx in grid]


def crop_hashes(img: Image.Image) -> list[int]:
    """Perceptual hashes of :func:`crop_boxes`: a 5%-cropped copy's own hash lands near one."""
    grey = to_mode(img, "L")
    scale = HASH_SIDE / max(grey.size)
    if scale < 1:  # a 32x32 hash needs no more; keeps 16 hashes cheap on large images
        grey = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
                           Image.Resampling.BOX)
    return [phash(grey, box) for box in crop_boxes(*grey.size)]


def _ncc(big: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of a zero-mean unit-norm template at every offset."""
    windows = sliding_window_view(big, template.shape)
    num = np.einsum("ijkl,kl->ij", windows, template)  # the template has zero mean
    k, n = template.shape[0], template.size
    c = np.zeros((big.shape[0] + 1, big.shape[1] + 1, 2))  # summed-area tables of x and x^2
    c[1:, 1:] = np.stack([big, big * big], axis=-1).cumsum(0).cumsum(1)
    sums = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    return num / np.sqrt(np.maximum(sums[..., 1] - sums[..., 0] ** 2 / n, 1e-12))


def _subpixel(ncc: np.ndarray, i: int, j: int) -> tuple[float, float]:
    """The correlation peak at (i, j), refined by a parabola through its neighbours."""

    def shift(lo: float, mid: float, hi: float) -> float:
        curve = lo - 2 * mid + hi
        return float(np.clip(0.5 * (lo - hi) / curve, -0.5, 0.5)) if curve < 0 else 0.0

    di = shift(ncc[i - 1, j], ncc[i, j], ncc[i + 1, j]) if 0 < i < ncc.shape[0] - 1 else 0.0
    dj = shift(ncc[i, j - 1], ncc[i, j], ncc[i, j + 1]) if 0 < j < ncc.shape[1] - 1 else 0.0
    return i + di, j + dj


def _coarse(big: Image.Image, template: np.ndarray, seed: Box) -> tuple[float, list[Box]]:
    """Best band-pass correlation near ``seed`` and the boxes (integer and sub-pixel) at it."""
    w, h = big.size
    size = template.shape[0]
    sx0, sy0, sx1, sy1 = seed
    cx, cy = (sx0 + sx1) / 2, (sy0 + sy1) / 2
    peak, boxes = -2.0, [seed]
    for rel in SEED_SCALES:
        bw, bh = (sx1 - sx0) * rel, (sy1 - sy0) * rel
        region = (max(0.0, cx - bw / 2 - MARGIN * w), max(0.0, cy - bh / 2 - MARGIN * h),
                  min(float(w), cx + bw / 2 + MARGIN * w), min(float(h), cy + bh / 2 + MARGIN * h))
        # floor: every window of the resampled region then lies inside the image
        rw, rh = int((region[2] - region[0]) * size / bw), int((region[3] - region[1]) * size / bh)
        if rw < size or rh < size:
            continue
        arr = np.asarray(big.resize((rw, rh), Image.Resampling.BOX, box=region), np.float64)
        ncc = _ncc(_band(arr), template)
        i, j = np.unravel_index(int(np.argmax(ncc)), ncc.shape)
        if ncc[i, j] > peak:
            peak, boxes = float(ncc[i, j]), []
            for fi, fj in ((i, j), _subpixel(ncc, i, j)):
                x0, y0 = region[0] + fj * bw / size, region[1] + fi * bh / size
                boxes.append((x0, y0, x0 + bw, y0 + bh))
    return peak, boxes


def _register(big: Image.Image, small: Picture, size: int, seed: Box) -> float:
    """The best detail correlation of ``small`` with a box of ``big`` near ``seed``."""
    full, detail, _ = small.views(size)
    band = None if full is None else _unit(_band(full.reshape(size, size)))
    if detail is None or band is None:
        return -1.0
    peak, boxes = _coarse(big, band.reshape(size, size), seed)
    if peak < REFINE_FLOOR:
        return -1.0  # no alignment worth refining
    w, h = big.size

    def score(b: Box) -> float:
        if min(b[:2]) < 0 or b[2] > w or b[3] > h:
            return -2.0
        vec = _detail(_thumb(big, size, b))
        return -2.0 if vec is None else float(vec @ detail)

    best, found = max((score(b), b) for b in boxes)
    step = 0.25 / size
    while step >= 1 / (8 * size):  # pattern search: shift x, shift y, grow / shrink
        moved = True
        while moved:
            moved = False
            x0, y0, x1, y1 = found
            for dx, dy, ds in ((step, 0, 0), (-step, 0, 0), (0, step, 0), (0, -step, 0),
                               (0, 0, step), (0, 0, -step)):
                cand = (x0 + dx * w, y0 + dy * h, x1 + (dx + ds) * w, y1 + (dy + ds) * h)
                value = score(cand)
                if value > best + 1e-9:
                    best, found, moved = value, cand, True
        step /= 2
    return best


def _size(a: Picture, b: Picture) -> int:
    return max(MIN_WORK, min(WORK, a.side, b.side))


def similarity(a: Picture, b: Picture) -> float:
    """Detail correlation of two pictures as they are (1 = the same picture)."""
    size = _size(a, b)
    (_, da, ma), (_, db, mb) = a.views(size), b.views(size)
    if da is None or db is None:
        return 1.0 if da is None and db is None and abs(ma - mb) <= FLAT_LEVELS else 0.0
    return float(da @ db)


def crop_similarity(big: Picture, small: Picture, *, crop: bool) -> float:
    """The better of :func:`similarity` and the detail correlation once ``small`` is aligned
    with the region of ``big`` it shows: searched around the centred 95% box with ``crop``
    (cropped copies), else around the whole frame (shifted or slightly cropped copies)."""
    plain = similarity(big, small)
    if big.views(_size(big, small))[1] is None:
        return plain
    w, h = big.grey.size
    seed = crop_boxes(w, h, (0.5,))[0] if crop else (0.0, 0.0, float(w), float(h))
    return max(plain, _register(big.grey, small, _size(big, small), seed))
