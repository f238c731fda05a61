"""Text formats of an item: the Med-MAT ``Question-choice`` layout and the JSONL line.

The option layout itself lives in :mod:`medmat.qa.answers` (the one answer protocol); this
module re-exports it with medmat's error type.

JSONL lines must equal ``json.dumps(row, ensure_ascii=False)`` byte for byte, whichever path
built them. JSON string escaping is character-wise, so escaped pieces can be concatenated; the
fast path escapes each distinct label / question once and whole columns with one regex scan.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from medmat.errors import MedmatError
from medmat.qa import answers
from medmat.qa.answers import CLOSING, LETTERS

# json.dumps(ensure_ascii=False) escapes exactly these characters.
_NEEDS_ESCAPE = r'[\x00-\x1f"\\]'


def format_question_choice(question: str, options: Sequence[str]) -> str:
    """The Med-MAT ``Question-choice`` text; the layout is :mod:`medmat.qa.answers`'.

    >>> print(format_question_choice("Which organ?", ["Lung", "Liver"]))
    Which organ?
    A: Lung
    B: Liver
    Answer with the option's letter from the given choices directly.
    """
    try:
        return answers.format_question_choice(question, options)
    except answers.OptionsError as exc:
        raise MedmatError(str(exc)) from None


def json_inner(text: str) -> str:
    """JSON string escape without the surrounding quotes."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def json_inner_array(arr: pa.Array) -> pa.Array:
    """:func:`json_inner` over a string array; rows without special characters pass as-is."""
    arr = arr.fill_null("") if arr.null_count else arr
    needs = pc.match_substring_regex(arr, _NEEDS_ESCAPE)
    if not pc.any(needs).as_py():
        return arr
    idx = np.flatnonzero(np.asarray(needs))
    repl = [json_inner(arr[int(i)].as_py()) for i in idx]
    return pc.replace_with_mask(arr, needs, pa.array(repl, type=arr.type))


__all__ = ["CLOSING", "LETTERS", "format_question_choice", "json_inner", "json_inner_array"]
