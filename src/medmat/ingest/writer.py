"""Checks on ``--out`` made before any work: not a non-empty folder (unless --force), not
inside the dataset. The all-or-nothing write itself is :func:`medmat.io.staged_dir`.
"""

from __future__ import annotations

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
