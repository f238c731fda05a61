"""Atomic file output: every file medmat writes appears complete or not at all.

Writers produce a temporary file in the destination directory and ``os.replace`` it into place,
so a killed run never leaves a half-written parquet/json/png that a later run would trust.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

# A write failing with one of these is about the destination, not the hidden temp file.
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES,
                           errno.EPERM})


@contextlib.contextmanager
def naming(dest: str | os.PathLike[str], temp: str | os.PathLike[str]) -> Iterator[None]:
    """Re-raise a failed write (disk full, read-only, permission) as an OSError naming ``dest``.

    Only errors without a file name or about the temporary ``temp`` (a file or folder) are
    renamed, so the one-line message of :mod:`medmat.failures` names the output the user asked
    for; an unreadable *input* keeps its own name.
    """
    try:
        yield
    except OSError as exc:
        name = exc.filename2 or exc.filename
        ours = name is None or os.path.abspath(name).startswith(os.path.abspath(temp))
        if exc.errno not in _WRITE_ERRNOS or not ours:
            raise
        raise OSError(exc.errno, exc.strerror or os.strerror(exc.errno), os.fspath(dest)) from exc


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; on success rename it onto ``dest``."""
    dest = Path(dest)
    with naming(dest, dest.parent / f".{dest.name}."):
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
    except UnicodeDecodeError as exc:
        raise MedmatError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"
        ) from None
    except RecursionError:
        raise MedmatError(f"{path}: JSON nested too deeply to read; flatten it") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise MedmatError(f"{path}: unreadable JSON value ({exc}); fix the file") from None


@contextlib.contextmanager
def staged_dir(out: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty hidden folder beside ``out``; on success it replaces ``out`` at once.

    For outputs that are whole folders (ingest, export, build): everything is built in the
    staging folder, then swapped into place, so a failure or a kill leaves ``out`` absent or
    exactly as it was, never a mix. Callers decide beforehand whether replacing an existing
    ``out`` is allowed (:func:`medmat.outdir.check_out_dir`).
    """
    # Resolved, so "x/.." or a symlinked parent never stages inside the folder it replaces.
    out = Path(os.path.realpath(os.path.abspath(out)))
    with naming(out, out.parent):  # disk full, read-only...: the message names ``out``
        out.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(stage, 0o777 & ~umask)  # mkdtemp makes it 0700; outputs are for sharing
    try:
        with naming(out, stage):
            yield stage
            if out.exists():
                swap_dirs(stage, out)  # the stage now holds the old output
            else:
                os.replace(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


_RENAME_EXCHANGE = 2  # linux/fs.h


def _rename_exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths with Linux renameat2(RENAME_EXCHANGE); False if unsupported."""
    if sys.platform != "linux":
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):  # old glibc, musl
        return False
    at_fdcwd = -100
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):  # filesystem cannot exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


def swap_dirs(new: Path, dest: Path) -> None:
    """Put folder ``new`` at ``dest`` and the old ``dest`` at ``new``, as one step where possible.

    On Linux one renameat2 call exchanges them, so every observer (and a ``kill -9`` at any
    instant) sees either the old or the new folder. Elsewhere two renames are used: a kill
    between them leaves ``dest`` missing and the old folder beside it as ``.NAME.old-*``.
    """
    if _rename_exchange(new, dest):
        return
    old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(dest, old)
    try:
        os.replace(new, dest)
    except BaseException:
        os.replace(old, dest)  # put the old output back
        raise
    os.replace(old, new)
