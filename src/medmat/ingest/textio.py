"""Reading the text and JSON files that sources are made of, with one message per failure.

A source file can be anything a user points at: Latin-1 instead of UTF-8, JSON nested ten
thousand levels deep (``RecursionError`` in the parser), an integer with more digits than
Python converts (``ValueError``). Each becomes a :class:`MedmatError` naming the file (or the
line) and the fix, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from medmat.errors import MedmatError


def read_text(path: Path) -> str:
    """The whole file as text (UTF-8, a BOM tolerated)."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MedmatError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise MedmatError(
            f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); re-save it as UTF-8"
        ) from None
    except OSError as exc:
        raise MedmatError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def json_problem(text: str) -> tuple[object, str | None]:
    """(value, None) for valid JSON, else (None, why it is refused)."""
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc})"
    except RecursionError:
        return None, "JSON nested too deeply to read; flatten the structure"
    except ValueError as exc:
        if "integer string conversion" in str(exc):
            return None, (f"holds an integer with more than {sys.get_int_max_str_digits()} "
                          "digits; no field needs one, remove it or store it as a string")
        return None, f"JSON value cannot be read ({exc})"


def read_json(path: Path) -> object:
    """A whole JSON file; any problem is one MedmatError naming the file."""
    value, problem = json_problem(read_text(path))
    if problem:
        raise MedmatError(f"{path}: {problem}; fix or regenerate the file")
    return value
