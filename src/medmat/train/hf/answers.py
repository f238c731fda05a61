"""Turn a generated answer into an option letter, or ``None`` ("no answer").

Rules, strongest first (the first rule that yields exactly one valid letter wins):

1. the whole reply is a letter: ``B``, ``B.``, ``(C)``, ``**D**``;
2. an explicit statement: ``The answer is D``, ``Answer: A``, ``answer is (B)``, ``Option C``;
3. a leading letter *label*: ``B. lung``, ``B) lung``, ``B: lung``, or ``B lung`` when the words
   after the letter are that option's text;
4. exactly one distinct parenthesised letter: ``I would pick (C) here`` (two distinct ones,
   "(A) or (B)", make the reply no answer);
5. exactly one option *text* occurs (case-insensitive, whole words; an option text found only
   inside a longer matching option, like "tumor" inside "no tumor", does not count);
6. a trailing standalone letter: ``... so it is B.``.

Only capital letters count, and only the letters of the offered options (a "E" for a
four-option item is no answer). An empty or unparseable reply is ``None`` and is reported as
"no answer"; it is never turned into a letter (VLMEvalKit once scored empty replies as "A").

The "A benign lesion" case: an English article and a letter look the same. A leading capital
followed by a space and words is read as a letter only when those words are that option's text
(rule 3), so "A benign lesion" is *not* A; it falls through to option-text matching, which picks
the option whose text is "benign lesion" if exactly one does, else no answer. lmms-eval reads it
as A, which rewards a model for starting a sentence with "A".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

_STRIP = " \t\r\n*_`'\"“”‘’"
_BARE = re.compile(r"^[\(\[]?([A-Z])[\)\]]?[.:;,!]?$")
_EXPLICIT = re.compile(
    r"(?:answer\s*(?:is|:)|correct\s+(?:option|choice|answer)\s*(?:is|:)?|\boption|\bchoice)"
    r"\s*[:\-]?\s*[\(\[]?\**([A-Z])\**[\)\]]?(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^[\(\[]?([A-Z])(?:[.:\)\]]|\s*-\s)\s*")
_LEADING_WORD = re.compile(r"^([A-Z])\s+(\S.*)$", re.DOTALL)
_PAREN = re.compile(r"\(([A-Z])\)")
_TRAILING = re.compile(r"(?<![A-Za-z0-9\-])([A-Z])[\)\].!]?$")


def valid_letters(n_options: int) -> str:
    return LETTERS[:n_options]


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip(" .,;:!?").lower()


def _unique(letters: Sequence[str]) -> str | None:
    distinct = set(letters)
    return distinct.pop() if len(distinct) == 1 else None


def match_option_text(text: str, options: Sequence[str]) -> str | None:
    """The letter of the only option whose text occurs in ``text`` (whole words), else None."""
    low = text.lower()
    spans: list[tuple[int, int, int]] = []  # (start, end, option index)
    for idx, opt in enumerate(options):
        needle = _norm(opt)
        if not needle:
            continue
        pattern = r"(?<![a-z0-9])" + re.escape(needle) + r"(?![a-z0-9])"
        spans.extend((m.start(), m.end(), idx) for m in re.finditer(pattern, low))
    # drop matches that sit inside a longer match of another option ("tumor" in "no tumor")
    kept = {
        idx for s, e, idx in spans
        if not any(s2 <= s and e <= e2 and (e2 - s2) > (e - s) and i2 != idx
                   for s2, e2, i2 in spans)
    }
    return LETTERS[kept.pop()] if len(kept) == 1 else None


def extract_answer(text: str | None, options: Sequence[str]) -> str | None:
    """Return the chosen option letter for a generated ``text``, or None for "no answer"."""
    if text is None:
        return None
    reply = text.strip(_STRIP)
    if not reply:
        return None
    allowed = valid_letters(len(options))

    def ok(letter: str | None) -> str | None:
        return letter if letter is not None and letter in allowed else None

    m = _BARE.match(reply)
    if m:
        return ok(m.group(1))
    explicit = [g.upper() for g in _EXPLICIT.findall(reply) if g.isupper()]
    if explicit:
        return ok(_unique(explicit))
    parens = set(_PAREN.findall(reply))
    if len(parens) > 1:
        return None  # "(A) or (B)": the reply names several options
    m = _LABEL.match(reply)
    if m:
        return ok(m.group(1))
    m = _LEADING_WORD.match(reply)
    if m and m.group(1) in allowed:
        rest = _norm(m.group(2))
        if rest == _norm(options[allowed.index(m.group(1))]):
            return m.group(1)
    if parens:
        return ok(parens.pop())
    by_text = match_option_text(reply, options)
    if by_text is not None:
        return by_text
    m = _TRAILING.search(reply)
    if m:
        return ok(m.group(1))
    return None
