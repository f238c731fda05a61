"""DICOM and NIfTI sources: the folder or table layout, then slices and groups per volume.

* ``--slices`` takes one row per slice: ``middle`` (default, one row per file as before),
  ``every:K``, ``even:N`` or ``mask:N`` (the N slices where the mask named by ``--mask-pattern``
  covers most pixels). It applies to NIfTI volumes (slices of ``--plane``) and multi-frame
  DICOM files (frames); a single-frame DICOM file is one row. Every slice row gets its own
  record id (``FILE#axial042``, ``FILE#frame007``) and PNG, and keeps the file's labels.
* ``--group-by`` gives each row a group carried into the records' ``group`` column; the split
  never puts one group on two sides. ``auto``: DICOM Patient ID, NIfTI the file (volume).
  ``patient`` / ``study`` / ``series`` read DICOM tags (a file without the tag falls back to the
  next of Patient ID, Study, Series UID, then the file), ``volume`` the file, ``folder`` the
  file's folder, ``none`` no group. A table's ``--group-column`` wins over all of these.
* Mask files named by ``--mask-pattern`` are not ingested as images themselves. For NIfTI the
  mask is a label volume and every slice row also gets the aligned label slice, from which
  :mod:`medmat.ingest.masks` takes the row's regions.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from medmat.errors import MedmatError
from medmat.imaging import resolve_under_root
from medmat.ingest.masks import drop_mask_rows, mask_files
from medmat.ingest.model import Candidate, SourceResult
from medmat.ingest.options import IngestOptions
from medmat.ingest.sources.volumes import SliceRule, parse_slices, pick_slices, require

_TAG_ORDER = ("patient", "study", "series")
NIFTI_SUFFIXES = (".nii.gz", ".nii")


def scan_volumes(fmt: str, path: Path, opts: IngestOptions,
                 table_suffixes: tuple[str, ...]) -> SourceResult:
    """Scan a folder or table of DICOM / NIfTI files into slice rows with groups."""
    from medmat.ingest.sources.folder import scan_folder
    from medmat.ingest.sources.table import scan_table

    require("pydicom" if fmt == "dicom" else "nibabel")
    decode = _decoder(fmt, opts)
    if path.is_dir():
        result, root = scan_folder(path, decode(None), source_name=opts.source_name), path
    elif path.suffix.lower() in table_suffixes:
        result = scan_table(path, decode(None), opts)
        root = Path(opts.images_root) if opts.images_root else path.parent
    else:
        raise MedmatError(
            f"{path}: --format {fmt} expects a folder of class folders or a CSV/TSV/JSONL table "
            "that maps files to labels"
        )
    expand(result, fmt, opts, root)
    return result


def _decoder(fmt: str, opts: IngestOptions):  # noqa: ANN202 - a factory of partials
    """``index -> Path -> image``; index None keeps ``--frame`` / ``--slice`` (or the middle)."""
    if fmt == "dicom":
        from medmat.ingest.sources.dicom import read_dicom

        return lambda k: partial(read_dicom, frame=opts.frame if k is None else k,
                                 window=opts.window, max_volume_mb=opts.max_volume_mb)
    from medmat.ingest.sources.nifti import read_nifti

    return lambda k: partial(read_nifti, plane=opts.plane,
                             index=opts.slice_index if k is None else k, window=opts.window,
                             max_volume_mb=opts.max_volume_mb)


def _stem(name: str) -> tuple[str, str]:
    lower = name.lower()
    for ext in NIFTI_SUFFIXES:
        if lower.endswith(ext):
            return name[: -len(ext)], name[-len(ext):]
    stem, dot, ext = name.rpartition(".")
    return (stem, dot + ext) if stem else (name, "")


def mask_rel(image_rel: str, pattern: str) -> str:
    """The mask's path for an image or volume: ``pattern`` ({stem}, {name}, {dir}) relative to
    the file's folder, or to the dataset root when it starts with ``/``."""
    folder, name = posixpath.split(image_rel.replace("\\", "/"))
    rel = (pattern.replace("{stem}", _stem(name)[0]).replace("{name}", name)
           .replace("{dir}", folder or "."))
    if rel.startswith("/"):
        return posixpath.normpath(rel.lstrip("/"))
    return posixpath.normpath(posixpath.join(folder, rel))


def _slice_rel(image_rel: str, tag: str, fmt: str) -> str:
    """``a/vol.nii.gz`` -> ``a/vol.axial042.nii.gz``: names the slice's PNG after its volume."""
    folder, name = posixpath.split(image_rel)
    stem, ext = _stem(name)
    return posixpath.join(folder, f"{stem}.{tag}{ext or ('.dcm' if fmt == 'dicom' else '')}")


def _group(cand: Candidate, how: str, tags: dict[str, str]) -> str | None:
    if how == "none":
        return None
    if how == "folder":
        return "folder:" + (posixpath.dirname(cand.image_rel) or ".")
    if how in _TAG_ORDER:
        for key in _TAG_ORDER[_TAG_ORDER.index(how):] + _TAG_ORDER[: _TAG_ORDER.index(how)]:
            if key in tags:
                return f"{key}:{tags[key]}"
    return "volume:" + cand.key


def _volume(fmt: str, file: Path, opts: IngestOptions, rule: SliceRule,
            mask: Path | None) -> tuple[int, list[float] | None, dict[str, str]]:
    """(slices, mask area per slice or None, DICOM group tags) of one file."""
    if fmt == "dicom":
        from medmat.ingest.sources.dicom import frame_areas, group_tags, n_frames, open_dicom

        ds = open_dicom(file, header_only=True)
        n = n_frames(ds, file)
        areas = frame_areas(mask, n, opts.max_volume_mb) if mask and n > 1 else None
        # (one frame: no slice to choose, the mask is not read)
        return n, areas, group_tags(ds)
    from medmat.ingest.sources.nifti import geometry, mask_areas, open_nifti

    n = geometry(open_nifti(file, opts.max_volume_mb), opts.plane).n
    areas = mask_areas(mask, file, opts.plane, opts.max_volume_mb) if mask else None
    return n, areas, {}


def expand(result: SourceResult, fmt: str, opts: IngestOptions, root: Path) -> None:
    """Replace each volume row by its slice rows and give every row its group (in place)."""
    rule = parse_slices(opts.slices)
    how = opts.group_by if opts.group_by != "auto" else ("patient" if fmt == "dicom" else
                                                          "volume")
    if fmt == "nifti" and how in _TAG_ORDER:
        raise MedmatError(
            f"--group-by {how}: NIfTI files carry no patient/study/series tags; use volume, "
            "folder or none (or a table's --group-column)"
        )
    decode = _decoder(fmt, opts)
    masks = mask_files(result.candidates, opts.mask_pattern) if opts.mask_pattern else {}
    drop_mask_rows(result, masks)
    labels = fmt == "nifti" and bool(masks)  # label slices for regions (DICOM: slice choice only)
    need_header = rule.kind != "middle" or (fmt == "dicom" and how in _TAG_ORDER) or labels
    out: list[Candidate] = []
    fallback: Counter[str] = Counter()
    volumes = 0
    for cand in result.candidates:
        rel = posixpath.normpath(cand.image_rel.replace("\\", "/"))
        if cand.error or cand.load is None or not need_header:
            cand.group = cand.group or _group(cand, how, {})
            out.append(cand)
            continue
        try:
            file = resolve_under_root(root, cand.image_rel)
            mask = resolve_under_root(root, masks[id(cand)]) if id(cand) in masks else None
            n, areas, tags = _volume(fmt, file, opts, rule, mask if rule.kind == "mask" else None)
            # a single-frame DICOM file is one row whatever the rule
            single = rule.single or (fmt == "dicom" and n == 1)
            picks = None if single else pick_slices(n, rule, areas)
            if picks == []:
                raise MedmatError(f"{mask}: the mask is empty; no slice to take (use even:N)")
        except MedmatError as exc:
            cand.error = str(exc)
            out.append(cand)
            continue
        if how in _TAG_ORDER and how not in tags:
            fallback[how] += 1
        cand.group = cand.group or _group(cand, how, tags)
        if labels and mask is not None:
            cand.regions_from = masks[id(cand)]
            cand.load_mask = _label_slice(mask, file, opts, opts.slice_index)
        if picks is None:
            out.append(cand)
            continue
        volumes += 1
        width = len(str(n - 1))
        for k in picks:
            tag = f"{'frame' if fmt == 'dicom' else opts.plane}{k:0{width}d}"
            out.append(dataclasses.replace(
                cand, key=f"{cand.key}#{tag}", where=f"{cand.where} [{tag}]",
                image_rel=_slice_rel(rel, tag, fmt),
                load=lambda f=file, k=k: decode(k)(f),
                regions_from=f"{cand.regions_from} [{tag}]" if cand.load_mask else None,
                load_mask=_label_slice(mask, file, opts, k) if cand.load_mask else None,
            ))
    result.candidates[:] = out
    _notes(result, rule, fallback, volumes)


def _label_slice(mask: Path, volume: Path, opts: IngestOptions,
                 k: int | None) -> Callable[[], np.ndarray]:
    """The label slice that goes with the image slice ``k`` (None: --slice or the middle)."""
    from medmat.ingest.sources.nifti import read_nifti_labels

    return partial(read_nifti_labels, mask, volume, plane=opts.plane, index=k,
                   max_volume_mb=opts.max_volume_mb)


def _notes(result: SourceResult, rule: SliceRule, fallback: Counter[str], volumes: int) -> None:
    for key, n in sorted(fallback.items()):
        result.notes.append(
            f"--group-by {key}: {n} file(s) have no {key} tag; grouped by the next of patient, "
            "study, series, else the file"
        )
    groups = Counter(c.group for c in result.candidates if not c.error)
    if len(groups) == 1 and sum(groups.values()) > 1 and None not in groups:
        only = next(iter(groups))
        result.notes.append(
            f"all {sum(groups.values())} rows share one group ({only}), so a derived split "
            "cannot separate them: no test rows; choose another --group-by if this is wrong"
        )
    if not rule.single:
        result.notes.append(f"--slices {rule.kind}:{rule.n}: {volumes} file(s) split into "
                            f"slices; {len(result.candidates)} row(s) in all")
