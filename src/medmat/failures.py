"""Every failure a message: the one handler every entry point (``medmat``, ``python -m ...``)
runs its command under.

* :class:`~medmat.errors.MedmatError` and the *expected* failures of a hostile world (disk
  full, permission denied, read-only disk, corrupt files, text that is not UTF-8, input nested
  too deeply, memory or other resource limits) print one line ``error: ...`` naming the file
  and the fix, and exit 2.
* Ctrl-C prints ``interrupted`` and exits 130.
* Anything else is a bug: one line with the exception, the full traceback saved to
  ``$TMPDIR/medmat-crash-<time>-<pid>.txt``, exit 1. ``MEDMAT_DEBUG=1`` re-raises instead.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from medmat.errors import MedmatError

EXIT_BUG = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
LOW_SPACE = 1 << 20  # bytes: below this, an odd write failure is taken for a full disk

_FIXES = {
    errno.ENOSPC: "disk full (no space left on device); free some space or write the output "
                  "to another disk, then rerun",
    errno.EDQUOT: "disk quota exceeded; free some space or write the output elsewhere, then "
                  "rerun",
    errno.EFBIG: "file too large for a resource limit (ulimit -f) or the file system; raise the "
                 "limit or write the output elsewhere",
    errno.EACCES: "permission denied; choose an output path you can write to (or fix the "
                  "permissions of the file/folder)",
    errno.EPERM: "operation not permitted; choose an output path you can write to (or fix the "
                 "permissions of the file/folder)",
    errno.EROFS: "read-only file system; write the output to a writable disk",
    errno.ENOENT: "no such file or folder; check the path",
    errno.ENOTDIR: "a part of the path is a file, not a folder; check the path",
    errno.EISDIR: "is a folder where a file was expected; check the path",
    errno.ENAMETOOLONG: "file name too long; use a shorter path",
    errno.ELOOP: "too many levels of symbolic links; check the path",
    errno.EMFILE: "too many open files; raise the limit (ulimit -n) and rerun",
    errno.ENFILE: "too many open files in the system; close some programs and rerun",
    errno.ENOMEM: "out of memory; lower --workers / batch sizes or free memory, then rerun",
    errno.EIO: "input/output error (failing disk or network share); check the disk and rerun",
}
_ERRNO_IN_TEXT = re.compile(r"(?:errno|os error|Errno) (\d+)", re.IGNORECASE)


def _argv_paths(argv: Sequence[str]) -> tuple[list[str], str | None]:
    """(existing files named on the command line, the --out value) for messages."""
    files, out = [], None
    for i, arg in enumerate(argv):
        if arg in ("--out", "-o") and i + 1 < len(argv):
            out = argv[i + 1]
        elif arg.startswith("--out="):
            out = arg.split("=", 1)[1]
        elif not arg.startswith("-") and os.path.isfile(arg):
            files.append(arg)
    return files, out


def _files(argv: Sequence[str]) -> str:
    files, _ = _argv_paths(argv)
    if not files:
        return "an input file"
    return files[0] if len(files) == 1 else "one of " + ", ".join(files)


def _oserror_errno(exc: BaseException) -> int | None:
    code = getattr(exc, "errno", None)
    if isinstance(code, int):
        return code
    # pyarrow, safetensors and torch wrap the OS error in their own text
    text = str(exc)
    if "No space left on device" in text:
        return errno.ENOSPC
    match = _ERRNO_IN_TEXT.search(text)
    return int(match.group(1)) if match else None


def _low_space(argv: Sequence[str]) -> str | None:
    """The --out folder (or the working folder) when its disk is (almost) full."""
    _, out = _argv_paths(argv)
    probe = Path(out or ".").absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return None
    return str(out or probe) if free < LOW_SPACE else None


def explain(exc: BaseException, argv: Sequence[str] = ()) -> str | None:
    """One line for an expected failure, or None when ``exc`` is a bug."""
    if isinstance(exc, MedmatError):
        return str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return (f"{_files(argv)}: not UTF-8 text ({exc.reason} at byte {exc.start}); save the "
                "file as UTF-8 and rerun")
    if isinstance(exc, RecursionError):
        return (f"{_files(argv)}: nested too deeply to read (deeper than about "
                f"{sys.getrecursionlimit()} levels); flatten the JSON/YAML")
    if isinstance(exc, MemoryError):
        return ("out of memory; lower --workers / batch sizes, use a smaller input or free "
                "memory, then rerun")
    if type(exc).__name__ == "SafetensorError":
        code = _oserror_errno(exc)
        if code in _FIXES:
            _, out = _argv_paths(argv)
            return f"{out or 'writing the output'}: {_FIXES[code]}"
        return (f"{_files(argv)}: corrupt or foreign safetensors file ({exc}); delete it to "
                "regenerate it")
    if type(exc).__name__ == "BrokenProcessPool":
        return ("a worker process died (killed by the system, most likely out of memory); "
                "rerun with fewer --workers")
    if isinstance(exc, OSError | RuntimeError):
        code = _oserror_errno(exc)
        # torch and others report a full disk as a RuntimeError; other codes only from OSError
        if code not in _FIXES or (not isinstance(exc, OSError) and code != errno.ENOSPC):
            return None
        src, dest = getattr(exc, "filename", None), getattr(exc, "filename2", None)
        where = f"{src} -> {dest}" if src and dest else src or dest  # a copy or rename: both
        where = where or _argv_paths(argv)[1] or "writing the output"
        return f"{where}: {_FIXES[code]}"
    return None


def _save_crash(exc: BaseException, argv: Sequence[str]) -> str | None:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(tempfile.gettempdir()) / f"medmat-crash-{stamp}-{os.getpid()}.txt"
    try:
        from medmat.manifest import medmat_version

        text = (f"medmat {medmat_version()} (Python {sys.version.split()[0]})\n"
                f"argv: {list(argv)}\n\n"
                + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        path.write_text(text, encoding="utf-8")
    except Exception:  # noqa: BLE001 - the disk may be the problem; say so below
        return None
    return str(path)


def _say(text: str) -> None:
    try:
        import click

        click.secho(text, fg="red" if text.startswith("error") else None, err=True)
    except Exception:  # noqa: BLE001 - stderr itself may be gone
        pass


def run_guarded(fn: Callable[[], object], argv: Sequence[str] | None = None) -> object:
    """Run ``fn`` (a whole command); return its result, or exit with a one-line message.

    ``argv`` (default ``sys.argv[1:]``) only serves to name the files and --out in messages.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        result = fn()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        _say("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except BaseException as exc:  # noqa: BLE001 - this is the last line of defence
        if os.environ.get("MEDMAT_DEBUG") == "1":
            raise
        message = explain(exc, argv)
        if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
            # The reader went away (`medmat catalog | head`): say nothing, and keep Python from
            # failing again when it flushes stdout at exit.
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_BUG)
        if message is None:
            full = _low_space(argv)
            if full is not None:
                message = f"{full}: {_FIXES[errno.ENOSPC]}"
        if message is not None:
            _say(f"error: {message}")
            sys.exit(EXIT_ERROR)
        crash = _save_crash(exc, argv)
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        where = (f"full traceback saved to {crash}" if crash else
                 "the traceback could not be saved (is the disk full?); rerun with MEDMAT_DEBUG=1")
        _say(f"error: unexpected {type(exc).__name__}: {first} ({where}; please report it)")
        sys.exit(EXIT_BUG)
    return result
