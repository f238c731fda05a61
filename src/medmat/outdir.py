"""The output-folder contract: one check, called by every command before it writes anything.

The rules (docs/guarantees.md):

* ``--out`` may not be, contain, or sit inside any *input* of the command (compared as
  resolved real paths, so symlinks and ``..`` do not slip through). Replacing a folder that
  holds the dataset being read would delete it.
* An existing non-empty folder is touched only when it holds a medmat output of the *same
  kind* (its ``manifest.json`` says so; see :func:`medmat.manifest.read_kind`):

  - resumable outputs (``resume_ok``: an experiment, an incremental synthetic lab) continue in
    place;
  - other outputs are replaced only with ``--force``.

  A folder of another kind, or a non-empty folder medmat did not make, is always refused:
  medmat never deletes what it did not write.
* A resumable output claims its folder (:func:`claim_dir`) before any work, so a run killed
  before its manifest exists can still be recognised and resumed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from medmat.errors import MedmatError

OutState = Literal["new", "replace", "resume"]
# Written by claim_dir: names the kind of an output whose manifest does not exist yet.
CLAIM_NAME = ".medmat-kind"

# What each kind is, for messages ("holds <what>").
KINDS: dict[str, str] = {
    "lab": "a synthetic lab (medmat synth)",
    "records": "an ingested records table (medmat ingest)",
    "items": "built VQA items (medmat build)",
    "export": "an export (medmat export)",
    "experiment": "an experiment (medmat experiment run / quickstart)",
    "report": "a report (medmat report --out)",
    "mock-release": "a mock Med-MAT release (medmat mock-release)",
}

PathLike = str | os.PathLike[str]


def real(path: PathLike) -> Path:
    """Absolute path with symlinks and ``..`` resolved (the path need not exist)."""
    return Path(os.path.realpath(os.path.abspath(os.path.expanduser(os.fspath(path)))))


def _within(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def folder_kind(folder: PathLike) -> str | None:
    """The kind of medmat output ``folder`` holds: its manifest, else its claim; None if neither."""
    from medmat.manifest import read_kind

    kind = read_kind(folder)
    if kind is not None:
        return kind
    try:
        obj = json.loads((Path(folder) / CLAIM_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    kind = obj.get("kind") if isinstance(obj, dict) else None
    return kind if isinstance(kind, str) and kind in KINDS else None


def _what(kind: str) -> str:
    return KINDS.get(kind, f"a medmat {kind!r} output")


def check_inputs(out: PathLike, inputs: Iterable[PathLike], flag: str = "--out") -> None:
    """Refuse an output that is, contains, or sits inside one of ``inputs`` (files or folders)."""
    dest = real(out)
    for given in inputs:
        src = real(given)
        if dest == src:
            raise MedmatError(
                f"{flag} {out}: is the input {given}; write the output to a new folder elsewhere"
            )
        if _within(src, dest):
            raise MedmatError(
                f"{flag} {out}: contains the input {given} (replacing it would delete the "
                "input); choose an output folder outside it"
            )
        if _within(dest, src):
            raise MedmatError(
                f"{flag} {out}: is inside the input folder {given}; choose an output folder "
                "outside it"
            )


def check_out_dir(
    out: PathLike,
    kind: str,
    inputs: Iterable[PathLike] = (),
    force: bool = False,
    resume_ok: bool = False,
    *,
    flag: str = "--out",
) -> OutState:
    """Check ``out`` for a ``kind`` output before any work; return what writing it will do.

    ``"new"``: absent or empty folder. ``"resume"``: holds a ``kind`` output and ``resume_ok``
    (continue in place). ``"replace"``: holds a ``kind`` output and ``force`` (swap a complete
    new output in). Everything else raises :class:`MedmatError` naming the folder, what it
    holds and the fix. Cheap: call it again just before the swap.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown output kind {kind!r}")
    shown = Path(out)
    dest = real(out)
    if dest == Path(dest.anchor) or dest in (real(Path.cwd()), real(Path.home())):
        raise MedmatError(
            f"{flag} {shown}: is the current, home or root folder; choose a dedicated output "
            "folder (e.g. runs/NAME)"
        )
    check_inputs(out, inputs, flag)
    if not os.path.lexists(dest):
        return "new"
    if not dest.is_dir():
        raise MedmatError(f"{flag} {shown}: exists and is not a folder; choose a folder path")
    try:
        empty = next(os.scandir(dest), None) is None
    except OSError as exc:
        raise MedmatError(f"{flag} {shown}: cannot read the folder ({exc.strerror})") from None
    if empty:
        return "new"
    have = folder_kind(dest)
    if have is None:
        raise MedmatError(
            f"{flag} {shown}: folder is not empty and was not made by medmat (no manifest.json); "
            f"medmat never replaces it: choose a new folder, or empty or delete it yourself"
        )
    if have != kind:
        raise MedmatError(
            f"{flag} {shown}: holds {_what(have)}, not {_what(kind)}; choose another folder "
            "(medmat never replaces an output of another kind)"
        )
    if resume_ok:
        return "resume"
    if force:
        return "replace"
    raise MedmatError(
        f"{flag} {shown}: folder is not empty (it holds {_what(kind)}); choose a new folder or "
        "pass --force to replace it"
    )


def claim_dir(out: PathLike, kind: str) -> Path:
    """Create ``out`` and mark it as a ``kind`` output (for outputs written in place).

    Call after :func:`check_out_dir` returned ``"new"`` and before any work, so a run killed
    before its manifest is written still leaves a folder the next run recognises and resumes.
    """
    from medmat.io import naming, write_json

    if kind not in KINDS:
        raise ValueError(f"unknown output kind {kind!r}")
    folder = Path(out)
    with naming(folder, folder):  # a failure names the folder (disk full, read-only, ...)
        folder.mkdir(parents=True, exist_ok=True)
        if folder_kind(folder) is None:
            write_json(folder / CLAIM_NAME, {"kind": kind})
    return folder


def check_out_file(out: PathLike, inputs: Iterable[PathLike] = (), *, flag: str = "--out") -> None:
    """Check a single-file output: not a folder, not an input, not inside an input folder.

    An existing *file* at ``out`` is replaced (atomically), like any command's ``-o FILE``.
    """
    shown = Path(out)
    dest = real(out)
    if dest.is_dir():
        raise MedmatError(f"{flag} {shown}: is a directory; give a file path for the output")
    for given in inputs:
        src = real(given)
        if dest == src:
            raise MedmatError(
                f"{flag} {shown}: is the input {given}; writing there would destroy it; "
                "choose another file"
            )
        if _within(dest, src):
            raise MedmatError(
                f"{flag} {shown}: is inside the input folder {given}; choose a file outside it"
            )
