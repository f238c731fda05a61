"""Regions of an image as records carry them: boxes in pixel edges of the stored image.

A record (:class:`medmat.records.ImageRecord`) may carry ``regions``: one or more boxes, each
``(x1, y1, x2, y2)`` in pixel *edges* of the stored image (pixel columns ``c0..c1`` give
``x1 = c0``, ``x2 = c1 + 1``; the whole ``W x H`` image is ``(0, 0, W, H)``), with an optional
label and, for a box taken from a mask, the number of foreground pixels. Where a mask was the
source, the record's ``mask`` names it (relative to the dataset root, like ``image``).

This module is the one place that turns regions into the Parquet column and back, so synth,
ingest, the QA builder and the exports agree on it. It sits below ``records`` in the river and
imports nothing of medmat's but the error type.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from medmat.errors import MedmatError

PixelBox = tuple[float, float, float, float]

# Optional records columns, written only when some record has regions / a mask (tables without
# them stay valid, as with ``group``).
REGION_TYPE = pa.struct([
    ("label", pa.string()),
    ("x1", pa.float64()),
    ("y1", pa.float64()),
    ("x2", pa.float64()),
    ("y2", pa.float64()),
    ("area", pa.int64()),
])
REGIONS_FIELD = pa.field("regions", pa.list_(REGION_TYPE))
MASK_FIELD = pa.field("mask", pa.string())


@dataclass(frozen=True)
class Region:
    """One box of an image in pixel edges, its label (None for a plain binary mask) and, for a
    mask-derived box, the number of foreground pixels it covers."""

    box: PixelBox
    label: str | None = None
    area: int | None = None


def box_problem(box: Sequence[float], image_size: tuple[float, float] | None = None) -> str | None:
    """Why ``box`` is not a valid pixel-edge box (of an image of ``image_size``), or None."""
    if len(box) != 4:
        return f"box {tuple(box)} has {len(box)} numbers; a box is (x1, y1, x2, y2)"
    x1, y1, x2, y2 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        return f"box {tuple(box)} has a non-finite coordinate"
    if x1 < 0 or y1 < 0:
        return f"box {tuple(box)} starts left of or above the image (negative coordinate)"
    if x2 <= x1 or y2 <= y1:
        return f"box {tuple(box)} is empty (needs x1 < x2 and y1 < y2)"
    if image_size is not None and (x2 > image_size[0] or y2 > image_size[1]):
        return (f"box {tuple(box)} reaches outside the {image_size[0]:g} x {image_size[1]:g} "
                "image")
    return None


def regions_to_column(regions: Iterable[Region] | None) -> list[dict] | None:
    """The Parquet value of one record's regions (None when the record has none)."""
    if regions is None:
        return None
    return [{"label": r.label, "x1": float(r.box[0]), "y1": float(r.box[1]),
             "x2": float(r.box[2]), "y2": float(r.box[3]), "area": r.area} for r in regions]


def regions_from_column(value: Sequence[dict] | None) -> tuple[Region, ...] | None:
    """One record's regions from its Parquet value."""
    if value is None:
        return None
    return tuple(Region((v["x1"], v["y1"], v["x2"], v["y2"]), v.get("label"), v.get("area"))
                 for v in value)


def check_regions_column(values: Sequence[Sequence[dict] | None], ids: Sequence[str],
                         source: str) -> None:
    """Every stored box is a valid box (the image size is checked where images are read)."""
    for record_id, regions in zip(ids, values, strict=True):
        for value in regions or ():
            problem = box_problem((value["x1"], value["y1"], value["x2"], value["y2"]))
            if problem:
                raise MedmatError(f"{source}: record {record_id!r}: {problem}")
