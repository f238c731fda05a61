"""lmms-eval task functions for a medmat export (shipped as ``utils.py`` next to the YAML).

The evaluation environment need not have medmat installed, yet the prompt and the scorer must
be medmat's own: the export ships ``medmat_answers.py``, a byte-for-byte copy of
``medmat/qa/answers.py`` (the answer protocol), and this file loads it from its own folder.
So a reply gets the same verdict here as inside medmat; the rules are in that file's
docstring. This module only runs inside an export folder (it needs that sibling file).
"""

import importlib.util
from pathlib import Path

PROTOCOL_FILE = "medmat_answers.py"


def _load_protocol():
    path = Path(__file__).with_name(PROTOCOL_FILE)
    if not path.is_file():
        raise ImportError(f"{path}: missing; re-export with `medmat export --format lmms-eval`")
    # lmms-eval loads this file by path, outside any package: load the sibling the same way
    spec = importlib.util.spec_from_file_location("medmat_answers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


answers = _load_protocol()
DEFAULT_POST_PROMPT = answers.CLOSING


def doc_to_visual(doc):
    return [doc["image"].convert("RGB")]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    """The question and ``A: text`` option lines (medmat's layout), between pre and post prompt.

    With the default kwargs this is exactly the item's ``Question-choice``.
    """
    kwargs = lmms_eval_specific_kwargs or {}
    pre = kwargs.get("pre_prompt", "")
    post = kwargs.get("post_prompt", DEFAULT_POST_PROMPT)
    return pre + answers.format_question_choice(doc["Question"], list(doc["options"]), post)


def doc_to_target(doc):
    return doc["Answer-choice"]


def process_results(doc, results):
    reply = results[0] if results else None
    predicted = answers.extract_answer(reply, list(doc["options"]))
    return {"exact_match": float(predicted is not None and predicted == doc["Answer-choice"])}
