"""The ingest format registry: ``--format`` name -> scanner, with a one-line description.

:func:`medmat.ingest.ingest` and the CLI's ``--format`` choices both read :data:`FORMATS`, so a
source format is added in one place. A scanner imports its source module (and the optional
package it needs: pydicom, nibabel) only when it runs, so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from medmat.errors import MedmatError

if TYPE_CHECKING:
    from medmat.ingest.model import SourceResult
    from medmat.ingest.options import IngestOptions

# A volume format reads a folder of class folders or a table; these suffixes mean a table.
TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".txt")


@dataclass(frozen=True)
class IngestFormat:
    scan: Callable[[Path, IngestOptions], SourceResult]
    description: str


def _folder(path: Path, opts: IngestOptions) -> SourceResult:
    from medmat.ingest.sources import decode_image
    from medmat.ingest.sources.folder import scan_folder

    return scan_folder(path, decode_image, source_name=opts.source_name)


def _table(path: Path, opts: IngestOptions) -> SourceResult:
    from medmat.ingest.sources import decode_image
    from medmat.ingest.sources.table import scan_table

    return scan_table(path, decode_image, opts)


def _medmnist(path: Path, opts: IngestOptions) -> SourceResult:
    from medmat.ingest.sources.medmnist import scan_medmnist

    return scan_medmnist(path, opts)


def _medmat_json(path: Path, opts: IngestOptions) -> SourceResult:
    from medmat.ingest.sources import decode_image
    from medmat.ingest.sources.medmat_json import scan_medmat_json

    return scan_medmat_json(path, decode_image, opts)


def _volumes(fmt: str, path: Path, opts: IngestOptions) -> SourceResult:
    """DICOM / NIfTI: the folder or table layout, then slices and groups per file."""
    from medmat.ingest.sources.volume_rows import scan_volumes

    return scan_volumes(fmt, path, opts, TABLE_SUFFIXES)


FORMATS: dict[str, IngestFormat] = {
    "folder": IngestFormat(_folder, "one sub-folder per label, optionally under train/val/test"),
    "csv": IngestFormat(_table, "CSV/TSV/JSON-lines table of image paths and labels"),
    "medmnist": IngestFormat(_medmnist, "a MedMNIST .npz archive (2D flags)"),
    "dicom": IngestFormat(partial(_volumes, "dicom"),
                          "DICOM files in the folder or table layout (needs medmat[dicom])"),
    "nifti": IngestFormat(partial(_volumes, "nifti"),
                          "NIfTI volumes, one slice each, folder or table layout "
                          "(needs medmat[dicom])"),
    "medmat-json": IngestFormat(_medmat_json, "the published Med-MAT QA JSON files"),
}


def scanner(fmt: str) -> Callable[[Path, IngestOptions], SourceResult]:
    """The scanner registered as ``fmt``; MedmatError listing the formats for an unknown one."""
    entry = FORMATS.get(fmt)
    if entry is None:
        choices = "; ".join(f"{name} ({f.description})" for name, f in FORMATS.items())
        raise MedmatError(f"--format {fmt!r}: use one of: {choices}")
    return entry.scan
