"""Label and split-name hygiene shared by every source.

Labels keep their exact text (commas, accents, parentheses all survive); we only strip
surrounding whitespace and apply Unicode NFC, because the same accented folder name arrives
decomposed (NFD) from macOS archives and composed from everywhere else.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from medmat.errors import MedmatError

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
    if not labels or any(not lab for lab in labels):
        return "empty label"
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
