from __future__ import annotations

import pytest

from medmat.train.hf.answers import extract_answer, match_option_text

OPTS = ("malignant tumor", "benign lesion", "normal tissue", "no tumor")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("B", "B"),
        ("B.", "B"),
        ("  B.\n", "B"),
        ("(C)", "C"),
        ("**D**", "D"),
        ("The answer is D", "D"),
        ("The answer is D.", "D"),
        ("Answer: A", "A"),
        ("answer: (B)", "B"),
        ("The correct option is C, because", "C"),
        ("B. benign lesion", "B"),
        ("C) normal tissue", "C"),
        ("B: benign lesion", "B"),  # the Med-MAT option format "A: text"
        ("B benign lesion", "B"),  # letter followed by that option's own text
        ("I would pick (C) here", "C"),
        ("normal tissue", "C"),  # option text only
        ("It looks like normal tissue to me", "C"),
        ("There is no tumor.", "D"),  # "tumor" alone is not an option; "no tumor" is
        ("so the choice is clearly A", "A"),
        ("I think it is B", "B"),  # trailing standalone letter
    ],
)
def test_extracts_letter(reply, expected):
    assert extract_answer(reply, OPTS) == expected


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "   ",
        None,
        "I don't know",
        "benign lesion or normal tissue",  # two option texts -> no answer
        "Option A or option B",  # conflicting explicit statements
        "E",  # not one of the four offered letters
        "The answer is E",
        "(A) or (B)",
        "the answer is a benign-looking thing",  # lowercase article, no option text
    ],
)
def test_no_answer(reply):
    assert extract_answer(reply, OPTS) is None


def test_article_a_is_not_the_letter_a():
    # "A benign lesion" starts with the article "A": read by its option text, not as A.
    assert extract_answer("A benign lesion", OPTS) == "B"
    # without a matching option text it is no answer, never A
    assert extract_answer("A benign lesion", ("cyst", "tumor")) is None
    # but "A. benign lesion" is a labelled letter
    assert extract_answer("A. benign lesion", OPTS) == "A"


def test_option_text_is_case_insensitive_and_word_bounded():
    assert match_option_text("NORMAL TISSUE seen", OPTS) == "C"
    assert match_option_text("abnormal tissues", ("normal tissue", "x")) is None
    assert match_option_text("nothing here", OPTS) is None
