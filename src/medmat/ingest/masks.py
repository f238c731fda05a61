"""Regions at ingest: segmentation masks and box tables attached to rows, checked, stored.

* ``--mask-pattern`` names each image's mask (``{stem}``, ``{name}``, ``{dir}``; relative to the
  image's folder, or to the dataset root when it starts with ``/``). For ``folder`` / ``csv``
  sources the mask is any image Pillow reads (binary, or a label map whose values are classes);
  for ``nifti`` it is a label volume on the image volume's voxel grid, cut into the same slices
  (:func:`medmat.ingest.sources.nifti.read_nifti_labels`). Mask files are not ingested as
  images themselves (listed under ``ignored``).
* ``--box-per image|component`` (default ``image``: one box per class, the outer extent of its
  pixels, as the Med-MAT study), ``--min-area N`` (regions with fewer foreground pixels are
  dropped) and ``--mask-labels 1=Tumor,2=Cyst`` (name a label map's values; without it the mask
  is binary and its boxes carry no label).
* ``--boxes FILE``: a CSV/JSON box table or COCO document (:func:`read_box_table`) whose
  ``image`` paths are spelled as the source spells them.

Every check happens where the image is decoded (:func:`region_fields`, called by
:mod:`medmat.ingest.validate`), so a mask of another size, an empty mask or a box outside its
image is a row problem naming the file: an error, or with ``--on-error skip`` a skipped row
listed in the report. Ingest never resizes or crops (volumes are only flipped / transposed, the
masks with them), so boxes are pixel edges of the stored PNG as computed. A mask is stored as a
PNG beside the images (``masks/...`` mirroring ``images/...``) and named by the record's
``mask``.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from medmat.errors import MedmatError
from medmat.imaging import resolve_under_root
from medmat.ingest.labels import clean_label, normalise_rel
from medmat.ingest.model import Candidate, SourceResult
from medmat.ingest.regions import (
    PER,
    boxes_from_mask,
    check_box,
    check_mask_size,
    read_box_table,
    read_mask,
)
from medmat.regions import Region

MASKS_DIR = "masks"
PNG_MASK_FORMATS = ("folder", "csv")
MASK_FORMATS = (*PNG_MASK_FORMATS, "nifti")  # dicom: --mask-pattern only chooses slices
BOX_FORMATS = ("folder", "csv")


def parse_mask_labels(text: str | None) -> dict[int, str] | None:
    """``"1=Tumor,2=Cyst"`` -> ``{1: "Tumor", 2: "Cyst"}`` (None stays None)."""
    if text is None:
        return None
    out: dict[int, str] = {}
    for part in text.split(","):
        value, sep, name = part.partition("=")
        try:
            key = int(value.strip())
        except ValueError:
            key = -1
        name = clean_label(name)
        if not sep or key < 1 or not name or key in out:
            raise MedmatError(f"--mask-labels {text!r}: write VALUE=NAME pairs with distinct "
                              "positive mask values, e.g. 1=Tumor,2=Cyst (0 is background)")
        out[key] = name
    return out


def check_region_options(opts: Any) -> None:
    """The region options of an :class:`~medmat.ingest.options.IngestOptions`, checked early."""
    if opts.box_per not in PER:
        raise MedmatError(f"--box-per {opts.box_per!r}: use one of {', '.join(PER)}")
    area = opts.min_area
    if isinstance(area, bool) or not isinstance(area, int) or area < 1:
        raise MedmatError(f"--min-area {area!r}: use a positive number of pixels")
    parse_mask_labels(opts.mask_labels)
    if opts.boxes and opts.mask_pattern:
        raise MedmatError("--boxes and --mask-pattern both give regions; use one")
    tuned = [flag for flag, on in (("--box-per", opts.box_per != "image"),
                                   ("--min-area", area != 1),
                                   ("--mask-labels", opts.mask_labels is not None)) if on]
    if tuned and not opts.mask_pattern:
        raise MedmatError(f"{', '.join(tuned)}: only used with masks; add --mask-pattern "
                          "(e.g. '{stem}_mask.png')")


def check_format(fmt: str, opts: Any) -> None:
    """Refuse region options a format cannot honour, before any work."""
    from medmat.ingest.sources.volumes import parse_slices

    if opts.boxes and fmt not in BOX_FORMATS:
        raise MedmatError(f"--boxes: box tables attach to the {' and '.join(BOX_FORMATS)} "
                          f"formats, not --format {fmt}")
    if not opts.mask_pattern or fmt in MASK_FORMATS:
        return
    if fmt == "dicom":
        if parse_slices(opts.slices).kind != "mask":
            raise MedmatError("--mask-pattern with --format dicom only chooses slices "
                              "(--slices mask:N); regions are read from PNG masks (folder, csv) "
                              "and NIfTI label volumes (nifti)")
        return
    raise MedmatError(f"--mask-pattern: masks are read for --format {', '.join(MASK_FORMATS)}, "
                      f"not {fmt}")


def mask_files(cands: list[Candidate], pattern: str) -> dict[int, str]:
    """Each healthy row's mask path (``id(candidate) -> path``), pattern applied to its image."""
    from medmat.ingest.sources.volume_rows import mask_rel

    return {id(c): mask_rel(c.image_rel, pattern) for c in cands
            if not c.error and c.load is not None}


def drop_mask_rows(result: SourceResult, masks: dict[int, str]) -> None:
    """Rows that are another row's mask are not images: list them as ignored (in place)."""
    owners = {posixpath.normpath(m): c.image_rel for c in result.candidates
              if (m := masks.get(id(c))) is not None}
    keep = []
    for cand in result.candidates:
        rel = posixpath.normpath(cand.image_rel.replace("\\", "/"))
        owner = owners.get(rel)
        if owner is not None and rel != posixpath.normpath(owner):
            result.ignored.append(f"{cand.image_rel} (mask of {owner})")
        else:
            keep.append(cand)
    result.candidates[:] = keep


def attach_masks(result: SourceResult, pattern: str) -> None:
    """Folder / table rows: give each row its mask image (read when the row is validated)."""
    if result.root is None:  # pragma: no cover - folder and table sources set it
        raise MedmatError("--mask-pattern: this source has no dataset root for mask paths")
    root = result.root
    masks = mask_files(result.candidates, pattern)
    drop_mask_rows(result, masks)
    for cand in result.candidates:
        rel = masks.get(id(cand))
        if rel is None:
            continue
        if rel == posixpath.normpath(cand.image_rel):
            cand.error = f"--mask-pattern {pattern!r} names the image itself as its mask"
            continue
        cand.regions_from = rel
        cand.load_mask = lambda rel=rel: read_mask(resolve_under_root(root, rel))


def attach_boxes(result: SourceResult, table: str | Path) -> None:
    """Folder / table rows: regions from a box table, matched by image path.

    Every table row must name an image of the source (a misspelt path would silently lose its
    boxes); images without rows get no regions.
    """
    table = Path(table)
    by_image: dict[str, list[Region]] = {}
    for image, regions in read_box_table(table).items():  # './a.png' and 'a.png' are one image
        by_image.setdefault(normalise_rel(image), []).extend(regions)
    seen = set()
    for cand in result.candidates:
        key = posixpath.normpath(cand.image_rel) if not cand.error else None
        if key in by_image:
            cand.regions, cand.regions_from = tuple(by_image[key]), f"{table} ({key})"
            seen.add(key)
    unknown = sorted(set(by_image) - seen)
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise MedmatError(f"--boxes {table}: {len(unknown)} image(s) not in the dataset: {shown}; "
                          "write image paths as the source spells them (relative to its root)")


def mask_png_rel(image_out: str) -> str:
    """``images/a/b.png`` -> ``masks/a/b.png``: the stored mask mirrors the stored image."""
    return posixpath.join(MASKS_DIR, image_out.split("/", 1)[1])


def _save_mask(arr: np.ndarray, dest: Path, where: str) -> None:
    if arr.min() < 0 or arr.max() > 65535:
        raise MedmatError(f"{where}: mask values must be 0..65535 to be stored as a PNG label "
                          f"map (found {int(arr.min())}..{int(arr.max())})")
    img = Image.fromarray(arr.astype(np.uint8 if arr.max() <= 255 else np.uint16))
    dest.parent.mkdir(parents=True, exist_ok=True)
    img.save(dest, format="PNG")  # inside the staging folder: atomic with the whole ingest


def region_fields(cand: Candidate, size: tuple[int, int], staging: Path, image_out: str,
                  opts: Any) -> tuple[tuple[Region, ...] | None, str | None]:
    """(regions, stored mask path) of one accepted row whose stored image is ``size`` (w, h).

    Raises MedmatError naming the mask / box table: the caller makes it a row problem.
    """
    where = cand.regions_from or cand.image_rel
    if cand.load_mask is not None:
        arr = cand.load_mask()
        check_mask_size(arr, size, where)
        boxes = boxes_from_mask(arr, per=opts.box_per, min_area=opts.min_area,
                                labels=parse_mask_labels(opts.mask_labels), where=where)
        if not boxes:
            raise MedmatError(f"{where}: no region has {opts.min_area} or more foreground "
                              "pixels; lower --min-area")
        rel = mask_png_rel(image_out)
        if not (staging / rel).exists():  # one image listed twice: its mask is stored once
            _save_mask(np.asarray(arr), staging / rel, where)
        return tuple(boxes), rel
    if cand.regions is not None:
        for region in cand.regions:
            check_box(region.box, size, where)
        return cand.regions, None
    return None, None
