"""lmms-eval task functions for a medmat export (shipped as ``utils.py`` next to the YAML).

The evaluation environment need not have medmat installed, yet the prompt and the scorer must
be medmat's own: the export ships ``medmat_answers.py``, a byte-for-byte copy of
``medmat/qa/answers.py`` (the answer protocol), and this file loads it from its own folder.
So a reply gets the same verdict here as inside medmat; the rules are in that file's
docstring. This module only runs inside an export folder (it needs that sibling file).

Grounding tasks (``*_grounding``) score a reply by IoU: ``medmat_boxes.py`` (shipped with
grounding exports) is a byte-for-byte copy of ``medmat/qa/boxes.py``, whose ``parse_box`` reads
the reply's box as medmat does (a reply without a box is a miss: IoU 0, its true box's area added
to the unions). The task reports cIoU (sum of intersections over sum of unions, the Med-MAT
study's metric), mIoU, acc@0.5 and the share of misses.
"""

import importlib.util
import sys
import types
from pathlib import Path

PROTOCOL_FILE = "medmat_answers.py"
BOXES_FILE = "medmat_boxes.py"


def _load_file(name, path):
    # lmms-eval loads this file by path, outside any package: load the siblings the same way
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_protocol():
    path = Path(__file__).with_name(PROTOCOL_FILE)
    if not path.is_file():
        raise ImportError(f"{path}: missing; re-export with `medmat export --format lmms-eval`")
    return _load_file("medmat_answers", path)


def _load_boxes():
    """The box parser copy, or None in an export without grounding items."""
    path = Path(__file__).with_name(BOXES_FILE)
    if not path.is_file():
        return None
    # The copy imports medmat.errors for its error type. Without medmat installed, a stand-in
    # module holds that name while the copy loads, and is removed again afterwards.
    shim = "medmat.errors" not in sys.modules and importlib.util.find_spec("medmat") is None
    if shim:
        errors = types.ModuleType("medmat.errors")
        errors.MedmatError = type("MedmatError", (ValueError,), {})
        package = types.ModuleType("medmat")
        package.errors = errors
        sys.modules.update({"medmat": package, "medmat.errors": errors})
    try:
        return _load_file("medmat_boxes", path)
    finally:
        if shim:
            del sys.modules["medmat"], sys.modules["medmat.errors"]


answers = _load_protocol()
boxes = _load_boxes()
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


def doc_to_text_grounding(doc, lmms_eval_specific_kwargs=None):
    """The grounding question between pre and post prompt; with the default kwargs (the YAML's
    post prompt is medmat's closing sentence) exactly the item's ``Question-choice``."""
    if not lmms_eval_specific_kwargs:
        return doc["Question-choice"]
    kwargs = lmms_eval_specific_kwargs
    return kwargs.get("pre_prompt", "") + doc["Question"] + "\n" + kwargs.get("post_prompt", "")


def doc_to_target_grounding(doc):
    return doc["Answer"]


def box_overlap(pred, gold):
    """(intersection, union) of a predicted and a true corner box; a miss (None) is (0, the
    true box's area), as medmat.evaluate.boxes counts it."""
    gold_area = (gold[2] - gold[0]) * (gold[3] - gold[1])
    if pred is None:
        return 0.0, gold_area
    w = max(0.0, min(pred[2], gold[2]) - max(pred[0], gold[0]))
    h = max(0.0, min(pred[3], gold[3]) - max(pred[1], gold[1]))
    inter = w * h
    return inter, (pred[2] - pred[0]) * (pred[3] - pred[1]) + gold_area - inter


def process_results_grounding(doc, results):
    reply = results[0] if results else None
    image = doc.get("image")
    size = image.size if image is not None else None
    box = boxes.parse_box(reply, image_size=size)
    inter, union = box_overlap(box, [float(v) for v in doc["answer_box"]])
    iou = inter / union if union > 0 else 0.0
    return {"ciou": (inter, union), "miou": iou, "acc50": float(iou >= 0.5),
            "miss": float(box is None)}


def ciou_aggregation(items):
    """cIoU over the task's documents: sum of intersections over sum of unions."""
    union = sum(u for _, u in items)
    return sum(i for i, _ in items) / union if union > 0 else 0.0
