"""All-or-nothing output: build everything in a hidden staging folder, then rename it into place.

The staging folder lives next to ``--out`` (same filesystem, so the final ``os.replace`` is
atomic); on any failure it is deleted, so a failed ingest leaves ``--out`` exactly as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from medmat.errors import MedmatError


def check_out_dir(out: Path, force: bool) -> None:
    """Refuse a non-empty output folder unless ``force`` (checked before any work is done)."""
    if out.exists() and not out.is_dir():
        raise MedmatError(f"--out {out}: exists and is not a folder; choose another path")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise MedmatError(
            f"--out {out}: folder exists and is not empty; choose a new folder or pass --force "
            "to replace it"
        )


def check_not_inside(out: Path, source: Path) -> None:
    """An output inside the dataset would be read back as data on the next run."""
    src = source.resolve()
    if not src.is_dir():
        src = src.parent
    dest = out.resolve()
    if dest == src or src in dest.parents:
        raise MedmatError(
            f"--out {out}: is inside the dataset folder {src}; write the output somewhere else"
        )


@contextlib.contextmanager
def staging_dir(out: Path) -> Iterator[Path]:
    """Yield an empty hidden folder beside ``out``; removed unless :func:`commit` consumed it."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    except OSError as exc:
        raise MedmatError(f"--out {out}: cannot create the output folder ({exc})") from None
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def commit(staging: Path, out: Path, force: bool) -> None:
    """Move the finished staging folder to ``out`` (replacing an old one only with ``force``)."""
    check_out_dir(out, force)  # again: something may have appeared while we worked
    old: Path | None = None
    if out.is_dir():
        if any(out.iterdir()):
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "previous")
        else:
            out.rmdir()
    os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
