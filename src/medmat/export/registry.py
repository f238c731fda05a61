"""The export formats: one name -> implementation table (lm-evaluation-harness style).

``medmat export --format`` offers exactly the names in :data:`REGISTRY`, and
:func:`medmat.export.export` dispatches through it; adding a format means adding one entry
here and one module with a writer ``write(ctx: WriteContext) -> list[str]`` (the notes shown to
the user). Writers are imported only when used, so ``medmat --help`` does not load pyarrow
writers, YAML dumpers or ``datasets``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from medmat.errors import MedmatError
from medmat.export.common import ExportInput, ImageFile


@dataclass(frozen=True)
class WriteContext:
    """Everything a writer gets: the items, the staging folder and the user's options."""

    inp: ExportInput
    stage: Path  # the temporary folder that becomes ``final_out``
    images: dict[str, ImageFile]  # items' image path -> checked file
    name: str
    copied: bool  # images were copied under stage/images/ (path-based formats only)
    final_out: Path
    by_subset: bool
    license: str


@dataclass(frozen=True)
class ExportFormat:
    name: str
    writer: str  # "module:function", imported on use
    summary: str  # one line for --help and the docs
    path_images: bool = False  # rows reference image files (honours --images copy|reference)
    needs_datasets: bool = False  # writes through the `datasets` library
    by_subset: bool = False  # supports --by-subset
    card: bool = False  # writes a dataset card (honours --license)

    def load(self) -> Callable[[WriteContext], list[str]]:
        module, func = self.writer.split(":")
        return getattr(importlib.import_module(module), func)


REGISTRY: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("llamafactory", "medmat.export.llamafactory:write_llamafactory",
                     "sharegpt JSON + dataset_info.json", path_images=True),
        ExportFormat("hf", "medmat.export.hf:write_hf",
                     "Hugging Face datasets Parquet + dataset card", needs_datasets=True,
                     card=True),
        ExportFormat("vlmevalkit", "medmat.export.vlmevalkit:write_vlmevalkit",
                     "VLMEvalKit MCQ TSV"),
        ExportFormat("lmms-eval", "medmat.export.lmms_eval:write_lmms_eval",
                     "lmms-eval task YAML + Parquet + scorer", needs_datasets=True),
        ExportFormat("medmat-json", "medmat.export.medmat_json:write_medmat_json",
                     "the published Med-MAT item JSON", path_images=True, by_subset=True),
    )
}
FORMATS = tuple(REGISTRY)


def get_format(name: str) -> ExportFormat:
    try:
        return REGISTRY[name]
    except KeyError:
        raise MedmatError(
            f"--format {name!r}: unknown; choose one of {', '.join(FORMATS)}"
        ) from None
