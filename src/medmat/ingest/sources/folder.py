"""Image folders: ``ROOT/[train|val|test/]CLASS/.../file``; the class folder name is the label.

Files directly under the root (or a split folder) are not in any class and are listed as
ignored; hidden files are skipped; symlinked *folders* are not followed (loops, escapes);
symlinked *files* are read only if they resolve inside the root. A file or folder name that
cannot be stored (not valid UTF-8, a line break or control character) makes its row an error;
such names appear escaped (``repr``) in messages and the report.
"""

from __future__ import annotations

import os
from pathlib import Path

from medmat.errors import MedmatError
from medmat.imaging import resolve_under_root
from medmat.ingest.labels import clean_label, normalise_rel, split_name
from medmat.ingest.model import Candidate, SourceResult
from medmat.ingest.sources import Decoder, is_hidden
from medmat.records import text_problem


def _layout(root: Path) -> list[tuple[str | None, Path]]:
    dirs = sorted(
        p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and not is_hidden(p.name)
    )
    splits = {d.name: split_name(d.name) for d in dirs}
    named = [d.name for d in dirs if splits[d.name]]
    if named and len(named) != len(dirs):
        others = [d.name for d in dirs if not splits[d.name]]
        raise MedmatError(
            f"{root}: has split folders ({', '.join(named)}) beside other folders "
            f"({', '.join(others)}); put every class folder inside train/, val/ or test/"
        )
    if named:
        return [(splits[d.name], d) for d in dirs]
    return [(None, root)]


def scan_folder(
    root: str | Path, decode: Decoder, *, source_name: str | None = None
) -> SourceResult:
    root = Path(root)
    if not root.is_dir():
        raise MedmatError(f"{root}: not a folder; --format folder expects ROOT/CLASS/image files")
    cands: list[Candidate] = []
    ignored: list[str] = []

    def rel(p: Path) -> str:
        text = p.relative_to(root).as_posix()
        return text if text_problem(text, "path") is None else repr(text)

    layout = _layout(root)
    if layout[0][0] is not None:  # split layout: files beside the split folders are not data
        for entry in sorted(root.iterdir()):
            if not is_hidden(entry.name) and not (entry.is_dir() and not entry.is_symlink()):
                ignored.append(f"{rel(entry)} (not inside a split/class folder)")
    for split, base in layout:
        for entry in sorted(base.iterdir()):
            if is_hidden(entry.name):
                continue
            if entry.is_symlink() and entry.is_dir():
                ignored.append(f"{rel(entry)} (symlinked folder, not followed)")
                continue
            if not entry.is_dir():
                ignored.append(f"{rel(entry)} (not inside a class folder)")
                continue
            label = clean_label(entry.name)
            for dirpath, dirnames, filenames in os.walk(entry, followlinks=False):
                here = Path(dirpath)
                for d in sorted(dirnames):
                    if (here / d).is_symlink():
                        ignored.append(f"{rel(here / d)} (symlinked folder, not followed)")
                dirnames[:] = sorted(d for d in dirnames if not is_hidden(d))
                for name in sorted(filenames):
                    if is_hidden(name):
                        continue
                    r = (here / name).relative_to(root).as_posix()
                    try:
                        normalise_rel(r)
                    except MedmatError as exc:
                        cands.append(Candidate(repr(r), repr(r), repr(r), None, error=str(exc)))
                        continue
                    cands.append(
                        Candidate(
                            key=r,
                            where=r,
                            image_rel=r,
                            load=lambda r=r: decode(resolve_under_root(root, r)),
                            labels=(label,),
                            split=split,
                        )
                    )
    if not cands:
        raise MedmatError(
            f"{root}: no image files found in class folders; expected ROOT/CLASS/file or "
            "ROOT/train|val|test/CLASS/file"
        )
    return SourceResult(cands, source_name or root.resolve().name, ignored=ignored, root=root)
