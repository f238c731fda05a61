"""Label, image-path and split-name hygiene shared by every source.

Labels keep their exact text (commas, accents, parentheses all survive); we only strip
surrounding whitespace and apply Unicode NFC, because the same accented folder name arrives
decomposed (NFD) from macOS archives and composed from everywhere else. What a label may
contain is the records schema's rule (:func:`medmat.records.labels_problem`), checked here at
the door so a bad label is refused by ingest, not a stage later.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path, PureWindowsPath

from medmat.errors import MedmatError
from medmat.records import labels_problem, text_problem

SPLIT_ALIASES = {
    "train": "train", "training": "train", "trn": "train",
    "val": "val", "valid": "val", "validation": "val", "dev": "val",
    "test": "test", "testing": "test", "tst": "test",
}


def clean_label(text: object) -> str:
    """Canonical form of one label (may be '' for an empty label; callers report that)."""
    if text is None:
        return ""
    return unicodedata.normalize("NFC", str(text)).strip()


def label_value(value: object, what: str = "label") -> str:
    """A label read from JSON: it must be a string (an object, list or number is an error)."""
    if value is not None and not isinstance(value, str):  # None: missing, an empty label
        raise MedmatError(f"{text_problem(value, what)}; write the label as a JSON string")
    return clean_label(value)


def normalise_rel(path: str) -> str:
    """One spelling per image path: ``a.png``, ``./a.png`` and ``.//a.png`` are the same image.

    Separators become ``/`` and empty or ``.`` parts are dropped; ``..`` parts and absolute
    paths are kept as they are so :func:`medmat.imaging.resolve_under_root` refuses them with
    its own message. Raises MedmatError for paths that cannot be stored (control characters,
    file names that are not valid UTF-8).
    """
    problem = text_problem(path, "image path")
    if problem:
        raise MedmatError(f"{problem} (rename the file)")
    posix = path.replace("\\", "/")
    if posix.startswith("/") or PureWindowsPath(path).is_absolute():
        return path
    parts = [p for p in posix.split("/") if p not in ("", ".")]
    return "/".join(parts) or path


def split_name(text: object) -> str | None:
    """'Training' -> 'train'; unknown names -> None (callers report them)."""
    return SPLIT_ALIASES.get(clean_label(text).lower())


def parse_labels_option(labels: str | None, labels_file: str | Path | None) -> tuple[str, ...]:
    """Allowed label space from ``--labels a,b,c`` and/or ``--labels-file`` (one per line).

    The file form exists for labels that themselves contain commas ("Névus, atypique").
    """
    out: list[str] = []
    if labels:
        out.extend(clean_label(p) for p in labels.split(","))
    if labels_file:
        path = Path(labels_file)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise MedmatError(f"--labels-file {path}: file not found") from None
        except UnicodeDecodeError as exc:
            raise MedmatError(f"--labels-file {path}: not UTF-8 text ({exc})") from None
        out.extend(clean_label(line) for line in text.splitlines())
    out = [lab for lab in out if lab]
    if (labels or labels_file) and not out:
        raise MedmatError("--labels / --labels-file gave no labels; list at least one")
    return tuple(dict.fromkeys(out))


def check_labels(labels: tuple[str, ...], allowed: frozenset[str] | None) -> str | None:
    """Why these labels are unacceptable, or None when they are fine."""
    problem = labels_problem(labels)
    if problem:
        return problem
    if allowed is not None:
        unknown = [lab for lab in labels if lab not in allowed]
        if unknown:
            shown = ", ".join(repr(u) for u in unknown)
            space = sorted(allowed)
            listed = ", ".join(repr(a) for a in space[:20]) + (", ..." if len(space) > 20 else "")
            return (
                f"unknown label {shown}; allowed: {listed} "
                "(fix the label or widen --labels / --labels-file)"
            )
    return None
