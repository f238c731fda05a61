"""Where ``medmat ingest`` may write, checked before any work, and the manifest that marks the
result as a records table. The all-or-nothing write itself is :func:`medmat.io.staged_dir`;
the rules for ``--out`` are the output-folder contract (:mod:`medmat.outdir`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from medmat.manifest import Manifest, file_digest, fingerprint, output_digests, write_manifest
from medmat.outdir import OutState, check_out_dir

KIND = "records"


def ingest_inputs(path: Path, images_root: str | None) -> list[Path]:
    """What ingest reads: the source (folder or file) and the folder its image paths are under."""
    inputs = [path]
    if not path.is_dir():
        inputs.append(Path(images_root) if images_root else path.parent)
    elif images_root:
        inputs.append(Path(images_root))
    return inputs


def check_ingest_out(out: Path, path: Path, images_root: str | None, force: bool) -> OutState:
    """Refuse an ``--out`` overlapping the inputs or holding anything but an ingest (--force)."""
    return check_out_dir(out, KIND, ingest_inputs(path, images_root), force=force)


def write_ingest_manifest(stage: Path, config: dict[str, Any], path: Path,
                          pixels: Iterable[tuple[str, str]], outputs: Iterable[str]) -> None:
    """Write ``manifest.json`` (kind "records") last into the staged folder.

    The input fingerprint is the source file's bytes (a table, an archive) plus the decoded
    pixels of every image ingested (``(record_id, pixel_sha1)`` pairs, already computed), so a
    big image folder is not read a second time just to hash it.
    """
    inputs = {"images": fingerprint(sorted(pixels))}
    if path.is_file():
        inputs["source"] = file_digest(path)
    man = Manifest(kind=KIND, config=config, inputs=inputs)
    write_manifest(stage, man.with_outputs(output_digests(stage, outputs)))
