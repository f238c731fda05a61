"""One answer protocol: medmat and the exported lmms-eval scorer give the same verdicts.

The scorer is taken from an actual export folder and run in a separate Python that cannot
import medmat (``-I -S``: no site-packages), loading ``utils.py`` by file path the way lmms-eval
does; its verdicts must equal medmat's and the expected ones written below.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from medmat.export import export
from medmat.qa import answers
from medmat.qa.answers import extract_answer

OPTIONS = ["Tumor", "Cyst", "No tumor", "Normal tissue"]
# (reply, expected letter or None = no answer)
TRICKY = [
    ("B", "B"),
    ("(B)", "B"),
    ("The answer is B.", "B"),
    ("B: Cyst", "B"),
    ("Cyst", "B"),
    ("A or B", None),
    ("", None),
    ("b", "B"),
    ("  B \n", "B"),
    ("  cyst  ", "B"),
    ("E", None),  # a letter not offered
    ("The answer is E.", None),
    ("A cyst", "B"),  # the article "A", then option B's text
    ("the answer is a cyst", "B"),
    ("a", "A"),
    ("the answer is a.", "A"),
    ("Answer: (c)", "C"),
    ("option D", "D"),
    ("Option A or option B", None),
    ("(A) or (B)", None),
    ("B) or C)", None),
    ("answer is B or C", None),
    ("I would pick (C) here", "C"),
    ("I think it is B", None),
    ("There is no cyst", None),
    ("**B**", "B"),
    ("\u201cB\u201d", "B"),
    ("B\nThe wall is thin.", "B"),
    ("B Cyst", "B"),
    ("A. Cyst", "A"),  # a labelled letter decides, whatever text follows
    ("b) cyst", "B"),
    ("B - Cyst", "B"),
    ("[D]", "D"),
    ("No tumor", "C"),
    ("no tumor.", "C"),
    ("tumor", "A"),
    ("The answer is no tumor", "C"),
    ("NORMAL   TISSUE!", "D"),
    ("cyst or tumor", None),
    ("The correct answer is B, not A.", "B"),
    ("e.g. a cyst", None),
]

_RUNNER = r"""
import importlib.util, json, sys
assert importlib.util.find_spec("medmat") is None, "medmat must not be importable here"
spec = importlib.util.spec_from_file_location("utils", sys.argv[1])
utils = importlib.util.module_from_spec(spec)
spec.loader.exec_module(utils)
table = json.loads(sys.stdin.read())
out = []
for reply, options in table:
    verdict = utils.answers.extract_answer(reply, options)
    scores = {t: utils.process_results({"options": options, "Answer-choice": t}, [reply])
              ["exact_match"] for t in "ABCD"[: len(options)]}
    out.append([verdict, scores])
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def lmms_export(tmp_path_factory, _shared_items) -> Path:
    out = tmp_path_factory.mktemp("lmms") / "export"
    export(_shared_items, "lmms-eval", out, splits=["test"], name="medmat_cg")
    return out


def _exported(folder: Path, table: list[tuple[str, list[str]]]) -> list:
    res = subprocess.run([sys.executable, "-I", "-S", "-c", _RUNNER, str(folder / "utils.py")],
                         input=json.dumps(table), capture_output=True, text=True, timeout=60,
                         check=False)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_export_ships_the_protocol_verbatim(lmms_export):
    shipped = (lmms_export / "medmat_answers.py").read_bytes()
    assert shipped == Path(answers.__file__).read_bytes()


def test_tricky_replies_same_verdict_inside_and_outside_medmat(lmms_export):
    outside = _exported(lmms_export, [(reply, OPTIONS) for reply, _ in TRICKY])
    for (reply, expected), (verdict, scores) in zip(TRICKY, outside, strict=True):
        assert extract_answer(reply, OPTIONS) == expected, reply
        assert verdict == expected, reply
        assert scores == {t: float(t == expected) for t in "ABCD"}, reply


def test_fewer_options_outside_medmat(lmms_export):
    two = ["Fractured", "Not fractured"]
    table = [("C", None), ("Not fractured", "B"), ("The answer is fractured.", "A"),
             ("A or B", None), ("b", "B")]
    outside = _exported(lmms_export, [(reply, two) for reply, _ in table])
    for (reply, expected), (verdict, scores) in zip(table, outside, strict=True):
        assert extract_answer(reply, two) == expected == verdict, reply
        assert scores == {t: float(t == expected) for t in "AB"}, reply
