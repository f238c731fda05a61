"""The answer protocol: how options are shown to a model and how its reply becomes a letter.

This one module is used by the item builder, the Hugging Face backend and every export that
ships a prompt or a scorer. It imports nothing but the standard library because the lmms-eval
export copies this very file next to its ``utils.py`` (as ``medmat_answers.py``): the scorer
outside medmat is literally this code.

Layout (the published Med-MAT ``Question-choice``)::

    <question>
    A: <option text>
    B: <option text>
    Answer with the option's letter from the given choices directly.

Extraction: :func:`extract_answer` maps a reply and the offered options to a letter, or to
``None`` ("no answer", scored as wrong and never turned into a letter). Before the rules,
markdown marks (``*`` and backticks) are removed and surrounding whitespace and quotes are
stripped. The first rule that applies decides:

1. **Bare letter** - the reply, or its first line, is one letter in either case, optionally in
   ``()`` or ``[]`` and optionally followed by ``.``, ``:`` or ``)``: ``B``, ``b``, ``(B)``,
   ``B.``, ``B)``, ``"B\\nbecause..."``.
2. **Option text** - the whole reply is one option's text, compared case-insensitively with
   whitespace runs collapsed and a final ``.`` or ``!`` dropped, possibly after the article
   "a", "an" or "the": ``Cyst``, ``cyst.``, ``A cyst``, ``The cyst``.
3. **Letter label** - the reply starts with a letter followed directly by ``:``, ``.`` or
   ``)`` (or wrapped in brackets, or followed by a spaced dash) and then text: ``B: Cyst``,
   ``b) cyst``, ``(B) Cyst``, ``B - Cyst``. The letter decides, whatever the text says. A
   letter followed by a plain space counts only when the rest is that letter's own option text
   (``B Cyst`` with B = Cyst).
4. **Stated answer** - a cue ("answer", "answer is/would be/should be", "option", "choice",
   each optionally followed by ``:``) then a letter: ``The answer is B.``, ``Answer: (c)``,
   ``option B``. After the cue an option's text also counts (``The answer is a cyst``), and
   the longest matching text wins (``no tumor`` over ``tumor``). Cues naming different options
   give no answer (``Option A or option B``).
5. **One parenthesised letter** anywhere: ``I would pick (C) here``; two distinct ones, as in
   ``(A) or (B)``, give no answer.

Anything else is no answer: ``""``, ``"A or B"``, ``"I think it is B"`` and free prose that
merely mentions an option (``"There is no cyst"`` must not count as *cyst*).

Details that apply to every rule:

* **Only offered letters count.** A letter beyond the options ("E" for four options) is no
  answer; it does not fall through to a later rule.
* **Alternatives give no answer.** A letter followed by "or", "and", "/", "," or "&" and
  another capital or bracketed letter (``A or B``, ``B) or C)``, ``answer is B or C``).
* **The article "A".** Outside rule 1, a lower-case letter counts only when punctuation or the
  end of the reply follows it, and a capital followed by a space only in rules 3 and 4. So
  "A cyst" is the option *cyst* (rule 2), never the letter A unless option A is "Cyst", and
  "the answer is a cyst" is *cyst*; but a lone "a" is the letter A.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CLOSING = "Answer with the option's letter from the given choices directly."
SEPARATOR = ": "  # between the letter and the option text, as in the published items


class OptionsError(ValueError):
    """Options that cannot be laid out (empty, too many, multi-line, not strings)."""


def check_options(options: Sequence[str]) -> list[str]:
    """The options as a list, or :class:`OptionsError` naming what is wrong."""
    if isinstance(options, str) or not 1 <= len(options) <= len(LETTERS):
        raise OptionsError(
            f"options={options!r}: give a list of 1 to {len(LETTERS)} option texts"
        )
    for opt in options:
        if not isinstance(opt, str) or not opt.strip() or "\n" in opt or "\r" in opt:
            raise OptionsError(f"option {opt!r}: options must be non-empty single-line strings")
    return list(options)


def option_lines(options: Sequence[str]) -> list[str]:
    """One ``A: text`` line per option, in letter order."""
    return [f"{LETTERS[i]}{SEPARATOR}{opt}" for i, opt in enumerate(check_options(options))]


def format_question_choice(
    question: str, options: Sequence[str], closing: str | None = CLOSING
) -> str:
    """``question``, then one ``A: text`` line per option, then ``closing`` (if any).

    >>> print(format_question_choice("Which organ?", ["Lung", "Liver"]))
    Which organ?
    A: Lung
    B: Liver
    Answer with the option's letter from the given choices directly.
    """
    lines = [question, *option_lines(options)]
    return "\n".join([*lines, closing] if closing else lines)


_MARKS = re.compile(r"[*`]")
_STRIP = " \t\r\n'\"\u201c\u201d\u2018\u2019"
_BARE = re.compile(r"^[(\[]?([A-Za-z])[)\]]?[.:)]?$")
_ARTICLE = re.compile(r"^(?:a|an|the)\s+")
_LABEL = re.compile(r"^(?:[(\[]([A-Za-z])[)\]]|([A-Za-z])[.:)]|([A-Za-z])\s+[-\u2013])(?:\s+|$)")
_SPACED = re.compile(r"^([A-Z])\s+(\S.*)$", re.DOTALL)
_CUE = re.compile(
    r"\b(?:answer|option|choice)\b(?:\s+(?:is|would\s+be|should\s+be))?\s*:?\s*", re.IGNORECASE
)
_TOKEN = re.compile(r"^[(\[]?([A-Za-z])[)\]]?(?![A-Za-z0-9])")
# case-sensitive on purpose: "B and a cyst" names one letter, "B or C" two
_ALTERNATIVE = re.compile(
    r"^\s*(?:,|/|&|\b(?:or|OR|Or|and|AND|And)\b)\s*(?:[A-Z]|[(\[][A-Za-z][)\]])(?!\w)"
)
_PAREN = re.compile(r"\(([A-Za-z])\)")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().rstrip(".!").strip().lower()


def _exact_option(text: str, options: Sequence[str]) -> int | None:
    """Index of the only option whose text is ``text`` (rule 2), else None."""
    norm = _norm(text)
    for candidate in (norm, _ARTICLE.sub("", norm)):
        hits = [i for i, opt in enumerate(options) if _norm(opt) == candidate]
        if hits:
            return hits[0] if len(hits) == 1 else None
    return None


def _leading_option(text: str, options: Sequence[str]) -> int | None:
    """Index of the longest option text that ``text`` starts with (after a cue), else None."""
    norm = _ARTICLE.sub("", _norm(text))
    best: tuple[int, int] | None = None  # (length, index)
    for i, opt in enumerate(options):
        needle = _norm(opt)
        if needle and re.match(re.escape(needle) + r"(?![\w-])", norm):
            if best is None or len(needle) > best[0]:
                best = (len(needle), i)
            elif len(needle) == best[0]:
                return None  # two options with the same text
    return None if best is None else best[1]


def _cue_letter(rest: str, options: Sequence[str]) -> str | None:
    """What follows one cue: a letter, an option's text, or nothing ("" = ambiguous)."""
    m = _TOKEN.match(rest)
    if m:
        letter, after = m.group(1), rest[m.end():]
        # a lower-case letter followed by words is the article "a", not option A
        if letter.isupper() or not re.match(r"\s+\w", after):
            return "" if _ALTERNATIVE.match(after) else letter.upper()
    idx = _leading_option(rest, options)
    return None if idx is None else LETTERS[idx]


def _offered(letter: str | None, n_options: int) -> str | None:
    if letter is None:
        return None
    letter = letter.upper()
    return letter if letter in LETTERS[:n_options] else None


def extract_answer(reply: str | None, options: Sequence[str]) -> str | None:
    """The option letter that ``reply`` chooses among ``options``, or None ("no answer").

    The rules are in the module docstring; they are the same inside medmat and in exports.
    """
    if reply is None:
        return None
    text = _MARKS.sub("", str(reply)).strip(_STRIP)
    if not text:
        return None
    n = len(options)
    # 1. bare letter (the whole reply or its first line)
    for candidate in (text, text.splitlines()[0].strip(_STRIP)):
        m = _BARE.match(candidate)
        if m:
            return _offered(m.group(1), n)
    # 2. the whole reply is one option's text
    idx = _exact_option(text, options)
    if idx is not None:
        return LETTERS[idx]
    # 3. a letter label at the start
    m = _LABEL.match(text)
    if m:
        if _ALTERNATIVE.match(text[m.end():]):
            return None
        return _offered(m.group(1) or m.group(2) or m.group(3), n)
    m = _SPACED.match(text)
    if m and m.group(1) in LETTERS[:n] and _norm(m.group(2)) == _norm(
            options[LETTERS.index(m.group(1))]):
        return m.group(1)
    # 4. stated answers
    stated = {_cue_letter(text[c.end():], options) for c in _CUE.finditer(text)} - {None}
    if stated:
        return _offered(stated.pop(), n) if len(stated) == 1 and "" not in stated else None
    # 5. exactly one parenthesised letter
    parens = {p.upper() for p in _PAREN.findall(text)}
    if parens:
        return _offered(parens.pop(), n) if len(parens) == 1 else None
    return None
