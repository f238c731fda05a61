"""Export built VQA items to the formats other tools read.

``export(items_dir, fmt, out)`` reads the output of ``medmat build`` (items.parquet +
summary.json), checks every image, writes the chosen format into a temporary folder and renames
it onto ``out``: nothing partial is ever left behind.

The formats are the entries of :data:`medmat.export.registry.REGISTRY`: ``llamafactory``
(sharegpt JSON + dataset_info.json), ``hf`` (Parquet with embedded images + dataset card),
``vlmevalkit`` (MCQ TSV), ``lmms-eval`` (task YAML + Parquet + scorer), ``medmat-json`` (the
published Med-MAT item JSON). Prompts and scorers follow :mod:`medmat.qa.answers`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from medmat.errors import MedmatError
from medmat.export.common import (
    ExportResult,
    check_images,
    check_name,
    copy_images,
    list_files,
    load_export_input,
    staged_output,
    write_export_manifest,
)
from medmat.export.registry import FORMATS, REGISTRY, WriteContext, get_format

IMAGE_MODES = ("copy", "reference")
DEFAULT_NAME = "medmat"
DEFAULT_LICENSE = "unknown"  # medmat cannot know the terms of the source images
_LICENSE_RE = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")


def _check_options(fmt: str, *, images: str, by_subset: bool, license: str | None) -> str:
    spec = get_format(fmt)
    if by_subset and not spec.by_subset:
        allowed = [f.name for f in REGISTRY.values() if f.by_subset]
        raise MedmatError(f"--by-subset applies to --format {' / '.join(allowed)} only")
    if license is not None and not spec.card:
        allowed = [f.name for f in REGISTRY.values() if f.card]
        raise MedmatError(f"--license applies to --format {' / '.join(allowed)} only")
    if images not in IMAGE_MODES:
        raise MedmatError(f"--images {images!r}: choose one of {', '.join(IMAGE_MODES)}")
    license = DEFAULT_LICENSE if license is None else license
    if not _LICENSE_RE.match(license):
        raise MedmatError(
            f"--license {license!r}: give a Hugging Face licence identifier in lower case "
            "(e.g. cc-by-4.0, apache-2.0, other, unknown)"
        )
    return license


def export(
    items_dir: str | Path,
    fmt: str,
    out: str | Path,
    *,
    splits: Sequence[str] | None = None,
    name: str = DEFAULT_NAME,
    images: str = "copy",
    overwrite: bool = False,
    by_subset: bool = False,
    license: str | None = None,
) -> ExportResult:
    """Export the items in ``items_dir`` as ``fmt`` into the folder ``out``.

    ``splits`` limits the export (default: every split present). ``images`` applies to the
    path-based formats (llamafactory, medmat-json): ``copy`` puts them under ``out/images/``,
    ``reference`` leaves them where they are (paths relative to the build's image_root).
    ``by_subset`` (medmat-json only) writes one ``Subset--NN-split.json`` per subset and split.
    ``license`` (hf only) is the dataset card's licence identifier (default ``unknown``).
    """
    license = _check_options(fmt, images=images, by_subset=by_subset, license=license)
    spec = REGISTRY[fmt]
    check_name(name)
    out = Path(out)
    inp = load_export_input(items_dir, splits)
    if spec.needs_datasets:
        from medmat.export.hf import _datasets

        _datasets()  # fail before any work if the library is missing
    write = spec.load()
    # Refuse a bad --out before the (slow) image check, and never write inside the inputs.
    with staged_output(out, overwrite=overwrite, protect=[inp.items_dir, inp.image_root]) as stage:
        files = check_images(inp)
        copied = spec.path_images and images == "copy"
        if copied:
            copy_images(files, stage)
        notes = write(WriteContext(inp=inp, stage=stage, images=files, name=name, copied=copied,
                                   final_out=out, by_subset=by_subset, license=license))
        listed = list_files(stage)
        config = {"format": fmt, "splits": inp.splits, "name": name, "images": images,
                  "by_subset": by_subset, "license": license}
        write_export_manifest(stage, inp, config, listed)  # last: it lists the files above
    counts = {s: len(inp.rows(s)) for s in inp.splits}
    return ExportResult(format=fmt, out=out, files=listed, counts=counts, images=len(files),
                        notes=notes)


__all__ = ["DEFAULT_LICENSE", "DEFAULT_NAME", "FORMATS", "IMAGE_MODES", "REGISTRY",
           "ExportResult", "export"]
