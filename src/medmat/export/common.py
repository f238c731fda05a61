"""What every exporter shares: reading a built items folder, checking its images, staging output.

An export is written into a hidden temporary folder next to ``--out`` and renamed into place
only when every file is complete, so a failed export (bad image, unknown split, missing
library) leaves nothing behind, and an existing export is replaced only with ``overwrite``.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.compute as pc
from PIL import Image

from medmat.errors import MedmatError
from medmat.imaging import open_image, resolve_under_root
from medmat.io import read_json, staged_dir
from medmat.manifest import Manifest, file_digest, output_digests, write_manifest
from medmat.outdir import check_out_dir
from medmat.progress import progress_bar
from medmat.records import ITEMS_FILE, ITEMS_SCHEMA, SPLITS, read_items_table

SUMMARY_FILE = "summary.json"
IMAGES_DIR = "images"
KIND = "export"  # manifest kind of an export folder
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class ExportInput:
    """The items to export (already filtered to the chosen splits) and where their images are."""

    items_dir: Path
    image_root: Path
    table: pa.Table
    splits: list[str]
    summary: dict = field(default_factory=dict)  # the build's summary.json

    def rows(self, split: str) -> list[dict]:
        return self.table.filter(pc.equal(self.table.column("split"), split)).to_pylist()


@dataclass
class ExportResult:
    format: str
    out: Path
    files: list[str]  # relative to ``out``, sorted
    counts: dict[str, int]  # items per split
    images: int  # distinct images written or referenced
    notes: list[str] = field(default_factory=list)


def check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise MedmatError(
            f"--name {name!r}: use letters, digits, '_', '-' or '.', starting with a letter or "
            "digit (it becomes file and task names)"
        )
    return name


def dataset_name(name: str, split: str, n_splits: int) -> str:
    """One split keeps the bare name; several get ``NAME_SPLIT`` so each file is one split."""
    return name if n_splits == 1 else f"{name}_{split}"


def load_export_input(items_dir: str | Path, splits: Sequence[str] | None = None) -> ExportInput:
    """Read ``items.parquet`` + ``summary.json`` (the output of ``medmat build``)."""
    items_dir = Path(items_dir)
    if not items_dir.is_dir():
        raise MedmatError(
            f"{items_dir}: not a folder; pass the output folder of `medmat build` (it holds "
            f"{ITEMS_FILE} and {SUMMARY_FILE})"
        )
    table = read_items_table(items_dir)
    missing = [c for c in ITEMS_SCHEMA.names if c not in table.column_names]
    if missing:
        raise MedmatError(
            f"{items_dir / ITEMS_FILE}: items table lacks column(s) {missing}; rebuild it with "
            "`medmat build`"
        )
    summary_file = items_dir / SUMMARY_FILE
    if not summary_file.exists():
        raise MedmatError(
            f"{summary_file}: not found; the export needs the build summary's image_root to find "
            "the images (rebuild with `medmat build`)"
        )
    summary = read_json(summary_file)
    root = summary.get("image_root") if isinstance(summary, dict) else None
    if not root:
        raise MedmatError(f"{summary_file}: no 'image_root' entry; rebuild with `medmat build`")
    image_root = Path(root)
    if not image_root.is_absolute():
        image_root = items_dir / image_root
    if not image_root.is_dir():
        raise MedmatError(
            f"{summary_file}: image_root {image_root} is not a folder (moved or deleted?); "
            "rebuild the items or restore the records folder"
        )

    present = [s for s in SPLITS if s in set(table.column("split").to_pylist())]
    if splits:
        unknown = [s for s in splits if s not in present]
        if unknown:
            raise MedmatError(
                f"--split {', '.join(unknown)}: no such items in {items_dir / ITEMS_FILE}; "
                f"available split(s): {', '.join(present) or 'none'}"
            )
        chosen = [s for s in SPLITS if s in set(splits)]
    else:
        chosen = present
    if not chosen:
        raise MedmatError(f"{items_dir / ITEMS_FILE}: no items to export (the table is empty)")
    table = table.filter(pc.is_in(table.column("split"), value_set=pa.array(chosen)))
    ids = table.column("id").to_pylist()
    if len(set(ids)) != len(ids):
        seen: set[int] = set()
        dup = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise MedmatError(
            f"{items_dir / ITEMS_FILE}: duplicate item id {dup}; exports need unique ids "
            "(rebuild with `medmat build`)"
        )
    return ExportInput(items_dir=items_dir, image_root=image_root.resolve(), table=table,
                       splits=chosen, summary=summary)


@dataclass(frozen=True)
class ImageFile:
    rel: str  # normalised POSIX path relative to image_root
    path: Path
    format: str | None  # Pillow format name of the file (PNG, JPEG, ...)
    copy_path: str  # where a copy goes, relative to the export folder (images/...)

    def path_in_export(self, copied: bool) -> str:
        """The path a row names: the copy's (relative to the export) or ``rel`` (to image_root)."""
        return self.copy_path if copied else self.rel


def _copy_paths(rels: Sequence[str]) -> dict[str, str]:
    """``images/<path>`` for each image path, without a doubled ``images/images/``.

    Records from ``medmat ingest`` keep their files under ``images/`` already. The prefix is
    dropped only when *every* image has it, so two files can never land on one copy.
    """
    prefix = IMAGES_DIR + "/"
    strip = bool(rels) and all(r.startswith(prefix) for r in rels)
    return {r: f"{IMAGES_DIR}/{r.removeprefix(prefix) if strip else r}" for r in rels}


def check_images(inp: ExportInput) -> dict[str, ImageFile]:
    """Resolve and fully decode every distinct image before anything is written.

    Decoding (not just ``exists``) catches truncated files and decompression bombs, which would
    otherwise surface only when a trainer reads the export.
    """
    rels = sorted(set(inp.table.column("image").to_pylist()))
    norms = {rel: PurePosixPath(rel.replace("\\", "/")).as_posix() for rel in rels}
    copies = _copy_paths(sorted(set(norms.values())))
    out: dict[str, ImageFile] = {}
    with progress_bar("checking images", total=len(rels)) as advance:
        for rel in rels:
            path = resolve_under_root(inp.image_root, rel or "")
            open_image(path)
            with Image.open(path) as img:
                fmt = img.format
            out[rel] = ImageFile(rel=norms[rel], path=path, format=fmt,
                                 copy_path=copies[norms[rel]])
            advance(1)
    return out


def image_bytes(img: ImageFile) -> tuple[bytes, str]:
    """Bytes to embed and their extension: PNG/JPEG files as they are, anything else as PNG."""
    if img.format in ("PNG", "JPEG"):
        return img.path.read_bytes(), "png" if img.format == "PNG" else "jpg"
    import io

    buf = io.BytesIO()
    open_image(img.path).save(buf, format="PNG")
    return buf.getvalue(), "png"


def copy_images(images: dict[str, ImageFile], stage: Path) -> None:
    """Copy images to ``stage/<copy_path>`` (under ``images/``, relative paths kept)."""
    with progress_bar("copying images", total=len(images)) as advance:
        for img in images.values():
            dest = stage / img.copy_path
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(img.path, dest)
            advance(1)


@contextlib.contextmanager
def staged_output(
    out: str | Path, *, overwrite: bool, protect: Sequence[Path] = ()
) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it replaces ``out`` in one rename.

    ``out`` follows the output-folder contract (:mod:`medmat.outdir`): never one of the
    ``protect``ed inputs, and an existing folder only if it holds an export and ``overwrite``.
    """
    check_out_dir(out, KIND, protect, force=overwrite)
    with staged_dir(out) as stage:
        yield stage
        check_out_dir(out, KIND, protect, force=overwrite)  # again, just before the swap


def write_export_manifest(stage: Path, inp: ExportInput, config: dict,
                          files: Sequence[str]) -> None:
    """Mark the staged folder as an export: its options, input digests and file digests."""
    inputs = {"items": file_digest(inp.items_dir / ITEMS_FILE),
              "summary": file_digest(inp.items_dir / SUMMARY_FILE)}
    man = Manifest(kind=KIND, config=config, inputs=inputs)
    write_manifest(stage, man.with_outputs(output_digests(stage, files)))


def list_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
