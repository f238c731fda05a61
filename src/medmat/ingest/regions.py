"""Regions of images: boxes from segmentation masks and box tables, checked, and transformed.

Boxes here are pixel-edge boxes ``(x1, y1, x2, y2)`` of the stored image (the convention of
:mod:`medmat.qa.boxes`): pixel columns ``c0..c1`` give ``x1 = c0``, ``x2 = c1 + 1``, so a box
always has positive width and height and the whole ``W x H`` image is ``(0, 0, W, H)``.

* Masks (:func:`boxes_from_mask`): binary (any non-zero pixel is foreground) or label maps
  (each value a class, named by a mapping). By default one box per class per image, the outer
  extent of its pixels, as the Med-MAT study did; ``per="component"`` gives one box per
  8-connected component (``scipy.ndimage.label``). ``min_area`` drops regions with fewer
  foreground pixels. A mask without foreground raises :class:`EmptyMaskError` (a
  :class:`MedmatError`), so a caller may count it as a skip instead of failing.
* Box tables (:func:`read_box_table`): CSV or JSON rows with ``image`` and either
  ``x_min, y_min, x_max, y_max`` or COCO's ``bbox = [x, y, w, h]``, or a COCO document
  (``images``, ``annotations``, ``categories``); an optional ``label`` per row.
* Checks name the file: a mask whose size differs from its image, a box outside its image.
* :func:`resize_box` and :func:`crop_box` follow a box through ``PIL.Image.resize`` and
  ``PIL.Image.crop`` (whose box is ``(left, top, right, bottom)`` in the same edge convention).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from medmat.errors import MedmatError
from medmat.ingest.textio import read_json, read_text
from medmat.regions import PixelBox, Region

__all__ = ["EmptyMaskError", "PixelBox", "Region", "boxes_from_mask", "box_from_row",
           "check_box", "check_mask_size", "crop_box", "read_box_table", "read_mask",
           "resize_box"]

PER = ("image", "component")
_CORNERS = ("x_min", "y_min", "x_max", "y_max")
_EIGHT = np.ones((3, 3), dtype=bool)  # 8-connectivity: diagonal pixels join one lesion


class EmptyMaskError(MedmatError):
    """A mask with no foreground pixels: an error, or a skip the caller counts."""


def read_mask(path: Path) -> np.ndarray:
    """A 2-D integer array from a mask image (PNG etc.; palette images give their indices)."""
    try:
        with Image.open(path) as img:
            if img.mode in ("RGB", "RGBA"):
                arr = np.asarray(img)
                if not (arr[..., :3] == arr[..., :1]).all():
                    raise MedmatError(f"{path}: colour mask; save masks as grey-level or palette "
                                      "PNGs whose values are the class numbers")
                return arr[..., 0].astype(np.int64)
            return np.asarray(img.convert("I") if img.mode == "1" else img).astype(np.int64)
    except FileNotFoundError:
        raise MedmatError(f"{path}: mask file not found") from None
    except (OSError, Image.UnidentifiedImageError) as exc:
        raise MedmatError(f"{path}: cannot be read as a mask image ({exc})") from None


def _as_mask(mask: np.ndarray, where: str) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2 or arr.dtype.kind not in "biu":
        raise MedmatError(f"{where}: a mask must be a 2-D array of integers or booleans, got "
                          f"shape {arr.shape} dtype {arr.dtype}")
    return arr


def check_mask_size(mask: np.ndarray, image_size: tuple[int, int], where: str) -> None:
    """Refuse a mask whose ``(height, width)`` differs from the image's ``(width, height)``."""
    h, w = np.asarray(mask).shape[:2]
    if (w, h) != tuple(image_size):
        raise MedmatError(f"{where}: mask is {w}x{h} but its image is "
                          f"{image_size[0]}x{image_size[1]}; masks must match their image pixel "
                          "for pixel (same size, no resize)")


def _extent(rows: np.ndarray, cols: np.ndarray) -> PixelBox:
    return (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)


def boxes_from_mask(mask: np.ndarray, *, per: str = "image", min_area: int = 1,
                    labels: Mapping[int, str] | None = None, label: str | None = None,
                    where: str = "mask") -> list[Region]:
    """Boxes of a mask (see the module docstring), ordered by class value then position.

    ``labels`` maps class values of a label map to names (every non-zero value present must
    be mapped); without it the mask is binary and every box gets ``label``. ``where`` names
    the mask file in messages.
    """
    if per not in PER:
        raise MedmatError(f"per={per!r}: use one of {', '.join(PER)}")
    if isinstance(min_area, bool) or not isinstance(min_area, int) or min_area < 1:
        raise MedmatError(f"min_area={min_area!r}: must be a positive number of pixels")
    arr = _as_mask(mask, where)
    if not arr.any():
        raise EmptyMaskError(f"{where}: mask has no foreground pixels")
    if labels is None:
        classes = [(label, arr != 0)]
    else:
        values = [int(v) for v in np.unique(arr) if v != 0]
        unknown = [v for v in values if v not in labels]
        if unknown:
            raise MedmatError(f"{where}: mask values {unknown[:5]} have no label name; add them "
                              "to the label mapping (0 is background)")
        classes = [(labels[v], arr == v) for v in values]
    out = []
    for name, fg in classes:
        if per == "image":
            rows, cols = np.nonzero(fg)
            if len(rows) >= min_area:
                out.append(Region(_extent(rows, cols), name, len(rows)))
            continue
        comp, n = ndimage.label(fg, structure=_EIGHT)
        for sl, k in zip(ndimage.find_objects(comp), range(1, n + 1), strict=True):
            area = int((comp[sl] == k).sum())
            if area >= min_area:
                r, c = sl
                out.append(Region((c.start, r.start, c.stop, r.stop), name, area))
    return out


def check_box(box: PixelBox, image_size: tuple[float, float], where: str) -> None:
    """Refuse a box with no area or reaching outside its ``(width, height)`` image."""
    x1, y1, x2, y2 = box
    w, h = image_size
    if not (x2 > x1 and y2 > y1):
        raise MedmatError(f"{where}: box {list(box)} has no area (need x_max > x_min and "
                          "y_max > y_min)")
    if x1 < 0 or y1 < 0 or x2 > w or y2 > h:
        raise MedmatError(f"{where}: box {list(box)} lies outside its {w}x{h} image; boxes are "
                          "pixel coordinates of the image as stored")


def _number(value: object, where: str, key: str) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise MedmatError(f"{where}: {key}={value!r} is not a number") from None
    if not math.isfinite(v):
        raise MedmatError(f"{where}: {key}={value!r} is not a finite number")
    return v


def box_from_row(row: Mapping[str, object], where: str) -> PixelBox:
    """The pixel-edge box of one table row: corner columns or COCO ``bbox = [x, y, w, h]``."""
    if row.get("bbox") not in (None, ""):
        bbox = row["bbox"]
        if isinstance(bbox, str):
            try:
                bbox = json.loads(bbox)
            except ValueError:
                raise MedmatError(f"{where}: bbox {bbox!r} is not a JSON list [x, y, w, h]"
                                  ) from None
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise MedmatError(f"{where}: bbox {bbox!r} must be [x, y, w, h] (COCO)")
        x, y, w, h = (_number(v, where, "bbox") for v in bbox)
        if w <= 0 or h <= 0:
            raise MedmatError(f"{where}: bbox {bbox!r} has no area (COCO's w and h must be > 0)")
        return (x, y, x + w, y + h)
    if all(row.get(k) not in (None, "") for k in _CORNERS):
        x1, y1, x2, y2 = (_number(row[k], where, k) for k in _CORNERS)
        if not (x2 > x1 and y2 > y1):
            raise MedmatError(f"{where}: box {[x1, y1, x2, y2]} has no area (need x_max > x_min "
                              "and y_max > y_min)")
        return (x1, y1, x2, y2)
    raise MedmatError(f"{where}: no box; give x_min, y_min, x_max, y_max or bbox = [x, y, w, h]")


def _coco_rows(doc: Mapping[str, object], path: Path
               ) -> tuple[list[dict[str, object]], dict[str, tuple[float, float]]]:
    """Rows and image sizes of a COCO document (images, annotations, optional categories)."""
    try:
        images = {im["id"]: im for im in doc["images"]}  # type: ignore[union-attr, index]
        names = {c["id"]: c["name"] for c in doc.get("categories", [])}  # type: ignore[union-attr]
        rows, sizes = [], {}
        for i, ann in enumerate(doc["annotations"]):  # type: ignore[union-attr]
            im = images.get(ann["image_id"])
            if im is None:
                raise MedmatError(f"{path}: annotation {i} names image_id {ann['image_id']!r}, "
                                  "which is not in images")
            rows.append({"image": im["file_name"], "bbox": ann["bbox"],
                         "label": names.get(ann.get("category_id"))})
            if "width" in im and "height" in im:
                sizes[im["file_name"]] = (im["width"], im["height"])
    except (KeyError, TypeError) as exc:
        raise MedmatError(f"{path}: not a COCO document (missing or malformed {exc}); need "
                          "images with id and file_name, annotations with image_id and bbox"
                          ) from None
    return rows, sizes


def read_box_table(path: Path, image_sizes: Mapping[str, tuple[float, float]] | None = None
                   ) -> dict[str, list[Region]]:
    """Boxes per image from a CSV/JSON box table or a COCO document (see module docstring).

    Boxes are checked against ``image_sizes`` (``{image: (width, height)}``) and, for COCO,
    against the document's own image sizes.
    """
    path = Path(path)
    sizes: dict[str, tuple[float, float]] = {}
    rows: Iterable[Mapping[str, object]]
    if path.suffix.lower() == ".json":
        doc = read_json(path)
        if isinstance(doc, dict) and "annotations" in doc:
            rows, sizes = _coco_rows(doc, path)
        elif isinstance(doc, list) and all(isinstance(r, dict) for r in doc):
            rows = doc
        else:
            raise MedmatError(f"{path}: expected a list of box rows or a COCO document")
    else:
        rows = list(csv.DictReader(io.StringIO(read_text(path))))
    sizes.update(image_sizes or {})
    out: dict[str, list[Region]] = {}
    for i, row in enumerate(rows):
        where = f"{path}: row {i + 1}"
        if None in row:  # csv.DictReader's key for fields beyond the header
            raise MedmatError(f"{where}: more fields than the header has; quote a bbox list "
                              '("[x, y, w, h]") so its commas stay in one field')
        image = row.get("image")
        if not isinstance(image, str) or not image:
            raise MedmatError(f"{where}: no image; every box row needs an 'image' path")
        box = box_from_row(row, where)
        if image in sizes:
            check_box(box, sizes[image], where)
        lab = row.get("label")
        out.setdefault(image, []).append(Region(box, None if lab in (None, "") else str(lab)))
    return out


def resize_box(box: PixelBox, src_size: tuple[float, float], dst_size: tuple[float, float]
               ) -> PixelBox:
    """The box on an image resized from ``src_size`` to ``dst_size`` (each ``(w, h)``)."""
    sx, sy = dst_size[0] / src_size[0], dst_size[1] / src_size[1]
    x1, y1, x2, y2 = box
    return (x1 * sx, y1 * sy, x2 * sx, y2 * sy)


def crop_box(box: PixelBox, crop: tuple[float, float, float, float]) -> PixelBox | None:
    """The box on ``image.crop(crop)``: shifted, clipped to the crop; None if nothing is left."""
    left, top, right, bottom = crop
    x1, y1, x2, y2 = box
    nx1, ny1 = max(x1, left) - left, max(y1, top) - top
    nx2, ny2 = min(x2, right) - left, min(y2, bottom) - top
    if nx2 <= nx1 or ny2 <= ny1:
        return None
    return (nx1, ny1, nx2, ny2)
