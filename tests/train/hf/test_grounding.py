"""The hf backend on grounding items: box text per backbone, training, generation and parsing."""

from __future__ import annotations

import dataclasses

import pytest

from medmat.qa.boxes import format_box, parse_box, render_box
from medmat.qa.grounding import GROUNDING_CLOSING
from medmat.records import QAItem
from medmat.train.hf import HFBackend
from medmat.train.hf.encoding import IGNORE, QWEN_BOX_CLOSING

from .conftest import make_item

# A box is ~40 tokens for the tiny tokenizers (digits one by one): full fine-tuning memorises it
# in a few seconds where LoRA on a 32-wide model needs far more steps.
FULL = {"lr": 1e-2, "epochs": 40, "batch_size": 4, "warmup_ratio": 0.0, "lora": False}
BOXES = [(0.1, 0.2, 0.5, 0.6), (0.25, 0.05, 0.75, 0.95), (0.0, 0.0, 1.0, 1.0),
         (0.333, 0.667, 0.5, 0.999)]


def box_item(i: int, box, image: str) -> QAItem:
    question = "Where is the lesion in this brain MRI scan?"
    return QAItem(
        id=100 + i, caption="Lesion", image=image, question=question, answer=format_box(box),
        question_choice=question + "\n" + GROUNDING_CLOSING, answer_choice="", data_no="40",
        options=(), modality="MRI", area="Brain", task="Detection/segmentation", subset="40",
        split="train", record_id=f"g{i}", answer_box=box)


@pytest.fixture(scope="module")
def box_items() -> list[QAItem]:
    return [box_item(i, BOXES[i % len(BOXES)], f"img/{i}.png") for i in range(8)]


@pytest.mark.parametrize("arch, style", [("qwen", "qwen2-vl"), ("llava", "llava")])
def test_box_text_round_trips_through_the_tokenizer(arch, style, qwen_path, llava_path,
                                                    box_items):
    backend = HFBackend(model=str(qwen_path if arch == "qwen" else llava_path), device="cpu")
    enc = backend.encoder
    assert enc.box_style == style
    for item in box_items:
        text = enc.target(item)
        assert text == render_box(item.answer_box, style)
        ids = enc.tok(text, add_special_tokens=False)["input_ids"]
        for skip in (False, True):
            reply = enc.tok.decode(ids, skip_special_tokens=skip)
            assert parse_box(reply, style=style) == item.answer_box, (reply, skip)
    # the prompt asks in the backbone's convention
    prompt = enc.prompt_text(box_items[0])
    if style == "qwen2-vl":
        assert QWEN_BOX_CLOSING in prompt and GROUNDING_CLOSING not in prompt
        assert enc.target(box_items[0]) == "<|box_start|>(100,200),(500,600)<|box_end|>"
    else:
        assert GROUNDING_CLOSING in prompt
        assert enc.target(box_items[0]) == "[0.100, 0.200, 0.500, 0.600]"


def test_labels_cover_the_box_answer_only(qwen_path, image_root, box_items):
    backend = HFBackend(model=str(qwen_path), device="cpu")
    enc = backend.encoder
    item = box_items[1]
    feat = enc.encode(item, enc.load_image(item, image_root), enc.target(item))
    want = enc.tok(enc.target(item) + "<|im_end|>", add_special_tokens=False)["input_ids"]
    kept = [lab for lab in feat.labels if lab != IGNORE]
    assert kept == want and feat.input_ids[-len(want):] == want


@pytest.mark.parametrize("arch", ["qwen", "llava"])
def test_training_on_boxes_lowers_the_loss_and_generates_boxes(arch, qwen_path, llava_path,
                                                               image_root, box_items, tmp_path):
    path = qwen_path if arch == "qwen" else llava_path
    # one box for every image: a tiny model can memorise it
    same = [dataclasses.replace(it, answer_box=BOXES[0], answer=format_box(BOXES[0]))
            for it in box_items]
    letters = [make_item(i, "B", f"img/{i}.png") for i in range(4)]
    backend = HFBackend(model=str(path), mode="likelihood", **FULL)
    backend.fit(same + letters, image_root, tmp_path / "w", seed=0)
    losses = backend.last_train.losses
    print(f"{arch}: loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    assert len(losses) == 120 and losses[-1] < 0.5 * losses[0]
    preds = backend.score(same[:4] + letters, image_root)  # likelihood mode: boxes still generate
    assert [p.item_id for p in preds] == [it.id for it in same[:4] + letters]
    for pred, item in zip(preds[:4], same[:4], strict=True):
        assert pred.n_options == 0 and pred.scores == () and pred.answer_box == BOXES[0]
        reply = backend.last_replies[item.id]
        assert pred.box == parse_box(reply, style=backend.encoder.box_style)
        assert pred.predicted == (format_box(pred.box) if pred.box is not None else None)
    assert backend.last_misses == sum(p.box is None for p in preds[:4])
    print(f"{arch}: replies {[backend.last_replies[it.id] for it in same[:4]]}")
    assert sum(p.box == BOXES[0] for p in preds[:4]) >= 3, backend.last_replies
    assert [p.predicted for p in preds[4:]] == ["B"] * 4 and all(p.scores for p in preds[4:])


def test_an_untrained_model_babbles_and_misses_are_counted(qwen_path, image_root, box_items):
    backend = HFBackend(model=str(qwen_path), mode="generate", eval_batch_size=3)
    preds = backend.score(box_items, image_root)
    assert len(preds) == len(box_items) and set(backend.last_replies) == {i.id for i in box_items}
    for pred, item in zip(preds, box_items, strict=True):
        box = parse_box(backend.last_replies[item.id], style="qwen2-vl")
        assert pred.box == box and (pred.predicted is None) == (box is None)
        assert not pred.correct or box is not None
    assert backend.last_misses == sum(p.box is None for p in preds)
    assert backend.last_misses > 0  # a random model rarely writes four numbers


def test_box_answers_change_the_training_fingerprint(qwen_path, box_items):
    from medmat.train.hf.backend import items_digest

    moved = [dataclasses.replace(box_items[0], answer_box=BOXES[1], answer=format_box(BOXES[1])),
             *box_items[1:]]
    assert items_digest(box_items) != items_digest(moved)
