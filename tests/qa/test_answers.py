"""The answer protocol: option layout and reply -> letter, rule by rule (see medmat.qa.answers).

The same verdicts through the exported lmms-eval scorer are checked in
tests/export/test_answer_protocol.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from medmat.errors import MedmatError
from medmat.qa import answers, fmt
from medmat.qa.answers import OptionsError, extract_answer, format_question_choice

OPTS = ("malignant tumor", "benign lesion", "normal tissue", "no tumor")


def test_layout_is_the_published_one():
    text = format_question_choice("Which lesion?", ["Glioma", "No tumor"])
    assert text == ("Which lesion?\nA: Glioma\nB: No tumor\n"
                    "Answer with the option's letter from the given choices directly.")
    assert format_question_choice("Q?", ["x"], closing="Pick one.") == "Q?\nA: x\nPick one."
    assert format_question_choice("Q?", ["x", "y"], closing="") == "Q?\nA: x\nB: y"
    # fmt is the same function behind medmat's error type
    assert fmt.format_question_choice("Which lesion?", ["Glioma", "No tumor"]) == text
    assert fmt.CLOSING is answers.CLOSING and fmt.LETTERS is answers.LETTERS


@pytest.mark.parametrize("options", [[], "AB", ["a"] * 27, ["ok", ""], ["two\nlines"], [3]])
def test_bad_options(options):
    with pytest.raises(OptionsError):
        format_question_choice("Q?", options)
    with pytest.raises(MedmatError):
        fmt.format_question_choice("Q?", options)


def test_protocol_module_is_standalone():
    # the lmms-eval export ships this file alone: it may import the standard library only
    source = Path(answers.__file__).read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported == {"__future__", "re", "collections"}


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        # 1. bare letter (either case, brackets, trailing punctuation, first line)
        ("B", "B"), ("b", "B"), ("B.", "B"), ("  B.\n", "B"), ("(C)", "C"), ("[c]", "C"),
        ("D)", "D"), ("**D**", "D"), ("`A`", "A"), ("\u201cB\u201d", "B"),
        ("B\nbecause the margins are smooth", "B"), ("a", "A"),
        # 2. the whole reply is an option's text (case, whitespace, final '.', article)
        ("normal tissue", "C"), ("Normal   Tissue.", "C"), ("NO TUMOR!", "D"),
        ("A benign lesion", "B"), ("the benign lesion", "B"), ("A malignant tumor", "A"),
        # 3. letter labels: the letter decides
        ("B. benign lesion", "B"), ("C) normal tissue", "C"), ("B: benign lesion", "B"),
        ("(B) benign lesion", "B"), ("B - benign lesion", "B"), ("b) benign lesion", "B"),
        ("A. benign lesion", "A"), ("B benign lesion", "B"),
        # 4. stated answers
        ("The answer is D", "D"), ("The answer is D.", "D"), ("Answer: A", "A"),
        ("answer: (b)", "B"), ("the answer is c.", "C"),
        ("The correct option is C, because", "C"), ("my choice: A", "A"),
        ("The answer would be **B**", "B"),
        ("The answer is no tumor", "D"), ("The answer is a benign lesion", "B"),
        ("the answer is b", "B"), ("The correct answer is B, not A.", "B"),
        # 5. one parenthesised letter
        ("I would pick (C) here", "C"), ("it's (d).", "D"),
    ],
)
def test_extracts_letter(reply, expected):
    assert extract_answer(reply, OPTS) == expected


@pytest.mark.parametrize(
    "reply",
    [
        "", "   ", None, "**", "I don't know",
        "E", "(e)", "The answer is E", "E. benign lesion",  # letters not offered
        "A or B", "a or b", "A/B", "(A) or (B)", "B) or C)", "answer is B or C",
        "Option A or option B",  # alternatives and conflicting statements
        "benign lesion or normal tissue",  # two option texts
        "I think it is B",  # no cue: prose that ends in a letter is not an answer
        "so the choice is clearly A",  # the letter does not follow the cue
        "There is no tumor here",  # mentioning an option is not choosing it
        "It looks like normal tissue to me",
        "A benign-looking thing",  # the article, and no option text
        "the answer is a benign-looking thing",
        "e.g. a lesion",
        "The answer is tumor-free",  # "tumor" is not an option and "tumor-free" no word of one
    ],
)
def test_no_answer(reply):
    assert extract_answer(reply, OPTS) is None


def test_article_a_is_not_the_letter_a():
    # "A benign lesion" starts with the article "A": read by its option text, not as A
    assert extract_answer("A benign lesion", OPTS) == "B"
    # without a matching option text it is no answer, never A
    assert extract_answer("A benign lesion", ("cyst", "tumor")) is None
    # ... unless option A's own text follows the letter
    assert extract_answer("A cyst", ("cyst", "tumor")) == "A"
    # a labelled "A." is the letter
    assert extract_answer("A. benign lesion", OPTS) == "A"


def test_longest_option_text_wins_after_a_cue():
    options = ("Fractured", "Not fractured")
    assert extract_answer("The answer is not fractured.", options) == "B"
    assert extract_answer("The answer is fractured, clearly", options) == "A"
    assert extract_answer("Not fractured", options) == "B"


def test_fewer_options_limit_the_letters():
    assert extract_answer("C", ("yes", "no")) is None
    assert extract_answer("B", ("yes", "no")) == "B"
    assert extract_answer("yes", ("yes", "no")) == "A"
