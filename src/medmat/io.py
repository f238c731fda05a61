"""Atomic file output: every file medmat writes appears complete or not at all.

Writers produce a temporary file in the destination directory and ``os.replace`` it into place,
so a killed run never leaves a half-written parquet/json/png that a later run would trust.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; on success rename it onto ``dest``."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; give the result the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_text(dest: str | os.PathLike[str], text: str) -> Path:
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(dest)


def write_bytes(dest: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
    return Path(dest)


def write_json(dest: str | os.PathLike[str], obj: Any) -> Path:
    """Deterministic JSON (sorted keys, 2-space indent, trailing newline)."""
    return write_text(dest, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def write_parquet(dest: str | os.PathLike[str], table: pa.Table) -> Path:
    # Modest row groups let readers stream big tables batch by batch.
    with atomic_path(dest) as tmp:
        pq.write_table(table, tmp, row_group_size=65536)
    return Path(dest)


def read_json(path: str | os.PathLike[str]) -> Any:
    from medmat.errors import MedmatError

    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MedmatError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise MedmatError(f"{path}: not valid JSON ({exc}); fix or regenerate the file") from None


@contextlib.contextmanager
def staged_dir(out: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty hidden folder beside ``out``; on success it replaces ``out`` at once.

    For outputs that are whole folders (ingest, export): everything is built in the staging
    folder, then renamed into place, so a failure leaves ``out`` absent or exactly as it was.
    An existing ``out`` is moved aside first and removed after the swap; callers decide
    beforehand whether replacing it is allowed.
    """
    from medmat.errors import MedmatError

    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as exc:
        raise MedmatError(f"--out {out}: cannot create the output folder ({exc})") from None
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(stage, 0o777 & ~umask)  # mkdtemp makes it 0700; outputs are for sharing
    try:
        yield stage
        if out.exists():
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(out, old)
            os.replace(stage, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
