"""Export built VQA items to the formats other tools read.

``export(items_dir, fmt, out)`` reads the output of ``medmat build`` (items.parquet +
summary.json), checks every image, writes the chosen format into a temporary folder and renames
it onto ``out``: nothing partial is ever left behind.

Formats: ``llamafactory`` (sharegpt JSON + dataset_info.json), ``hf`` (Parquet with embedded
images), ``vlmevalkit`` (MCQ TSV), ``lmms-eval`` (task YAML + Parquet + utils.py),
``medmat-json`` (the published Med-MAT item JSON).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from medmat.errors import MedmatError
from medmat.export.common import (
    ExportInput,
    ExportResult,
    check_images,
    check_name,
    copy_images,
    list_files,
    load_export_input,
    staged_output,
)

FORMATS = ("llamafactory", "hf", "vlmevalkit", "lmms-eval", "medmat-json")
IMAGE_MODES = ("copy", "reference")
DEFAULT_NAME = "medmat"


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
) -> ExportResult:
    """Export the items in ``items_dir`` as ``fmt`` into the folder ``out``.

    ``splits`` limits the export (default: every split present). ``images`` applies to the
    path-based formats (llamafactory, medmat-json): ``copy`` puts them under ``out/images/``,
    ``reference`` leaves them where they are (paths relative to the build's image_root).
    ``by_subset`` (medmat-json only) writes one ``Subset--NN-split.json`` per subset and split.
    """
    if fmt not in FORMATS:
        raise MedmatError(f"--format {fmt!r}: unknown; choose one of {', '.join(FORMATS)}")
    if by_subset and fmt != "medmat-json":
        raise MedmatError("--by-subset applies to --format medmat-json only")
    if images not in IMAGE_MODES:
        raise MedmatError(f"--images {images!r}: choose one of {', '.join(IMAGE_MODES)}")
    check_name(name)
    out = Path(out)
    inp = load_export_input(items_dir, splits)
    if fmt in ("hf", "lmms-eval"):
        from medmat.export.hf import _datasets

        _datasets()  # fail before any work if the library is missing
    # Refuse a bad --out before the (slow) image check, and never write inside the inputs.
    with staged_output(out, overwrite=overwrite, protect=[inp.items_dir, inp.image_root]) as stage:
        files = check_images(inp)
        copied = images == "copy"
        notes = _write(fmt, inp, stage, files, name=name, copied=copied, final_out=out,
                       by_subset=by_subset)
        listed = list_files(stage)
    counts = {s: len(inp.rows(s)) for s in inp.splits}
    return ExportResult(format=fmt, out=out, files=listed, counts=counts, images=len(files),
                        notes=notes)


def _write(fmt: str, inp: ExportInput, stage: Path, files: dict, *, name: str, copied: bool,
           final_out: Path, by_subset: bool) -> list[str]:
    if fmt == "llamafactory":
        from medmat.export.llamafactory import write_llamafactory

        if copied:
            copy_images(files, stage)
        return write_llamafactory(inp, stage, files, name=name, copied=copied)
    if fmt == "medmat-json":
        from medmat.export.medmat_json import write_medmat_json

        if copied:
            copy_images(files, stage)
        return write_medmat_json(inp, stage, files, name=name, copied=copied,
                                 by_subset=by_subset)
    if fmt == "hf":
        from medmat.export.hf import write_hf

        return write_hf(inp, stage, files, name=name)
    if fmt == "vlmevalkit":
        from medmat.export.vlmevalkit import write_vlmevalkit

        return write_vlmevalkit(inp, stage, files, name=name)
    from medmat.export.lmms_eval import write_lmms_eval

    return write_lmms_eval(inp, stage, files, name=name, final_out=final_out)


__all__ = ["DEFAULT_NAME", "FORMATS", "IMAGE_MODES", "ExportResult", "export"]
