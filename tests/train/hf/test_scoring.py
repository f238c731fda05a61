from __future__ import annotations

import math

import pytest

from medmat.qa.answers import extract_answer
from medmat.records import Prediction, predictions_to_table
from medmat.train.hf import HFBackend

from .conftest import make_item


@pytest.fixture(scope="module")
def zero_shot(qwen_path):
    return HFBackend(model=str(qwen_path), eval_batch_size=3)


def test_likelihood_records(zero_shot, image_root, items):
    preds = zero_shot.score(items, image_root)
    assert [p.item_id for p in preds] == [it.id for it in items]
    for pred, item in zip(preds, items, strict=True):
        assert isinstance(pred, Prediction)
        assert pred.answer == item.answer_choice
        assert pred.n_options == 4 and len(pred.scores) == 4
        assert math.isclose(sum(pred.scores), 1.0, rel_tol=1e-5)
        best = max(range(4), key=lambda k: pred.scores[k])
        assert pred.predicted == "ABCD"[best]
    # the record format the statistics read
    table = predictions_to_table(preds)
    assert table.num_rows == len(items)


def test_likelihood_does_not_depend_on_batching(qwen_path, image_root, items):
    mixed = [*items[:3], make_item(99, "C", "big.png")]  # different lengths -> padding
    one = HFBackend(model=str(qwen_path), eval_batch_size=1).score(mixed, image_root)
    many = HFBackend(model=str(qwen_path), eval_batch_size=4).score(mixed, image_root)
    for a, b in zip(one, many, strict=True):
        assert a.scores == pytest.approx(b.scores, abs=1e-4)


def test_likelihood_fewer_options(zero_shot, image_root):
    two = make_item(50, "B", "img/0.png", options=("normal", "abnormal"))
    (pred,) = zero_shot.score([two], image_root)
    assert pred.n_options == 2 and len(pred.scores) == 2
    assert math.isclose(sum(pred.scores), 1.0, rel_tol=1e-5)  # over the two offered options
    assert pred.predicted == "AB"[pred.scores[1] > pred.scores[0]]


def test_generation_records_and_no_answer(qwen_path, image_root, items):
    # an untrained model babbles: whatever it says goes through the extractor, and replies
    # without a parseable answer are None ("no answer"), never a letter
    backend = HFBackend(model=str(qwen_path), mode="generate", max_new_tokens=6,
                        eval_batch_size=3)
    preds = backend.score(items, image_root)
    assert [p.item_id for p in preds] == [it.id for it in items]
    assert set(backend.last_replies) == {it.id for it in items}
    for pred, item in zip(preds, items, strict=True):
        assert pred.scores == () and pred.n_options == 4
        assert pred.predicted == extract_answer(backend.last_replies[item.id], item.options)
    assert any(p.predicted is None for p in preds)
    assert all(not p.correct for p in preds if p.predicted is None)


def test_generation_does_not_depend_on_batching(qwen_path, image_root, items):
    mixed = [*items[:2], make_item(99, "C", "big.png")]
    replies = []
    for size in (1, 3):
        backend = HFBackend(model=str(qwen_path), mode="generate", max_new_tokens=5,
                            eval_batch_size=size)
        backend.score(mixed, image_root)
        replies.append(backend.last_replies)
    assert replies[0] == replies[1]


def test_llava_zero_shot(llava_path, image_root, items):
    preds = HFBackend(model=str(llava_path)).score(items[:4], image_root)
    assert [p.item_id for p in preds] == [it.id for it in items[:4]]
    for pred, item in zip(preds, items[:4], strict=True):
        assert pred.answer == item.answer_choice and len(pred.scores) == 4
        assert math.isclose(sum(pred.scores), 1.0, rel_tol=1e-5)
        assert pred.predicted == "ABCD"[max(range(4), key=lambda k: pred.scores[k])]


def test_empty_item_list(zero_shot, image_root):
    assert zero_shot.score([], image_root) == []
