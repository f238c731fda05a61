"""The built-in model's box head learns where a bright square is, jointly with classification."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from medmat.qa import iter_items
from medmat.qa.boxes import format_box
from medmat.records import ImageRecord, QAItem, read_records_table, records_to_table
from medmat.regions import Region
from medmat.synth.generate import generate_lab
from medmat.synth.lab import LabConfig
from medmat.synth.spec import parse_cell
from medmat.train.builtin import BuiltinBackend
from medmat.train.builtin_boxes import BATCH, box_loss, epoch_batches

SIDE = 48


@pytest.fixture(autouse=True)
def _threads():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _lab(root: Path, n_box: int, n_cls: int, seed: int = 0) -> list[QAItem]:
    """Grounding records (a bright square on noise) and classification records (bright vs dark
    images), as QA items built by the QA builder."""
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    (root / "img").mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n_box):
        pixels = (noise.random((SIDE, SIDE, 3)) * 60).astype("uint8")
        size = rng.randint(10, 18)
        x, y = rng.randrange(0, SIDE - size), rng.randrange(0, SIDE - size)
        pixels[y:y + size, x:x + size] = 230
        Image.fromarray(pixels).save(root / "img" / f"b{i}.png")
        records.append(ImageRecord(
            record_id=f"b{i}", image=f"img/b{i}.png", labels=("Lesion",), modality="MRI",
            area="Brain", task="Detection/segmentation", subset="40",
            split="test" if i % 4 == 0 else "train",
            regions=(Region((x, y, x + size, y + size), "Lesion"),)))
    for i in range(n_cls):
        bright = i % 2 == 0
        pixels = (noise.random((SIDE, SIDE, 3)) * 60 + (150 if bright else 0)).astype("uint8")
        Image.fromarray(pixels).save(root / "img" / f"c{i}.png")
        records.append(ImageRecord(
            record_id=f"c{i}", image=f"img/c{i}.png", labels=("Pneumonia" if bright else "Normal",),
            modality="CT", area="Lung", task="Pneumonia", subset="03",
            split="test" if i % 4 == 0 else "train"))
    return list(iter_items(records_to_table(records), seed=1, image_root=root))


def _ciou(pred: np.ndarray, gold: np.ndarray) -> float:
    """Sum of intersections over sum of unions (written here, independent of medmat)."""
    w = np.clip(np.minimum(pred[:, 2], gold[:, 2]) - np.maximum(pred[:, 0], gold[:, 0]), 0, None)
    h = np.clip(np.minimum(pred[:, 3], gold[:, 3]) - np.maximum(pred[:, 1], gold[:, 1]), 0, None)
    inter = w * h
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    return float(inter.sum() / (area(pred) + area(gold) - inter).sum())


def test_box_head_learns_far_above_the_whole_image_box(tmp_path):
    items = _lab(tmp_path, n_box=320, n_cls=120)
    train = [it for it in items if it.split == "train"]
    test = [it for it in items if it.split == "test"]
    backend = BuiltinBackend(epochs=25, batch_size=32, image_size=32)
    backend.fit(train, tmp_path, tmp_path / "w", seed=0)
    preds = backend.score(test, tmp_path)
    assert [p.item_id for p in preds] == [it.id for it in test]
    ground = [(p, it) for p, it in zip(preds, test, strict=True) if it.is_grounding]
    cls = [(p, it) for p, it in zip(preds, test, strict=True) if not it.is_grounding]
    assert len(ground) == 80 and len(cls) == 30
    gold = np.array([it.answer_box for _, it in ground])
    pred = np.array([p.box for p, _ in ground])
    model_ciou = _ciou(pred, gold)
    whole_ciou = _ciou(np.tile([0.0, 0.0, 1.0, 1.0], (len(gold), 1)), gold)
    print(f"builtin box head cIoU {model_ciou:.3f} vs whole-image box {whole_ciou:.3f}")
    assert model_ciou > whole_ciou + 0.3 and model_ciou > 0.45
    for p, it in ground:
        assert p.n_options == 0 and p.answer == it.answer and p.answer_box == it.answer_box
        assert p.predicted == format_box(p.box)
    # the classification items trained in the same fit still learn their easy task
    assert sum(p.correct for p, _ in cls) >= 27
    assert all(p.box is None and p.predicted in "AB" for p, _ in cls)

    # a finished work dir loads back with its head: same boxes without retraining
    again = BuiltinBackend(epochs=25, batch_size=32, image_size=32)
    again.fit(train, tmp_path, tmp_path / "w", seed=0)
    assert [p.box for p in again.score(test, tmp_path)] == [p.box for p in preds]


def test_lab_detection_cell_learns_far_above_the_whole_image_box(tmp_path):
    """The lab's detection task with the backend's default settings (the cls-det design's
    target_trained arm, smaller): every seed well above the whole-image box. Before grounding
    items had their own small batches, seeds landed anywhere from 0.001 to 0.2 (builtin_boxes)."""
    generate_lab(tmp_path, [parse_cell("xray-brain-detseg")], n_train=200, n_test=80,
                 cfg=LabConfig(size=64), workers=1, contact_sheet=False)
    items = list(iter_items(read_records_table(tmp_path / "records.parquet"), seed=0,
                            image_root=tmp_path))
    train = [it for it in items if it.split == "train"]
    test = [it for it in items if it.split == "test"]
    assert len(train) == 200 and len(test) == 80 and all(it.is_grounding for it in items)
    gold = np.array([it.answer_box for it in test])
    whole_ciou = _ciou(np.tile([0.0, 0.0, 1.0, 1.0], (len(gold), 1)), gold)
    assert 0.02 < whole_ciou < 0.06  # small lesions: the trivial box is poor
    for seed in (0, 1):
        backend = BuiltinBackend(epochs=8)
        backend.fit(train, tmp_path, tmp_path / f"w{seed}", seed=seed)
        model_ciou = _ciou(np.array([p.box for p in backend.score(test, tmp_path)]), gold)
        print(f"seed {seed}: cIoU {model_ciou:.3f} vs whole-image box {whole_ciou:.3f}")
        assert model_ciou > 5 * whole_ciou and model_ciou > 0.2  # measured 0.36, 0.31


def test_epoch_batches_cover_grounding_items_once_in_small_batches():
    cls = [torch.tensor([4, 0, 2]), torch.tensor([1, 3])]
    steps = epoch_batches(cls, 37, 128, torch.Generator().manual_seed(0))
    box = [rows for is_box, rows in steps if is_box]
    kept = sorted((rows.tolist() for is_box, rows in steps if not is_box), key=len)
    assert kept == [[1, 3], [4, 0, 2]]  # the classification batches as given
    assert len(box) == 3 and max(len(r) for r in box) == BATCH == 16
    assert sorted(torch.cat(box).tolist()) == list(range(37))
    assert [is_box for is_box, _ in steps] != [False, False, True, True, True]  # interleaved
    # a smaller batch_size than BATCH wins; the same generator seed gives the same epoch
    assert max(len(r) for b, r in epoch_batches([], 37, 8, torch.Generator()) if b) == 8
    again = epoch_batches(cls, 37, 128, torch.Generator().manual_seed(0))
    assert all(a[0] == b[0] and torch.equal(a[1], b[1])
               for a, b in zip(steps, again, strict=True))


def test_classification_only_models_answer_boxes_with_a_fresh_head(tmp_path):
    items = _lab(tmp_path, n_box=8, n_cls=16)
    cls = [it for it in items if not it.is_grounding]
    backend = BuiltinBackend(epochs=1, batch_size=8)
    backend.fit(cls, tmp_path, tmp_path / "w", seed=0)
    state = torch.random.get_rng_state()
    preds = backend.score(items, tmp_path)
    assert torch.equal(state, torch.random.get_rng_state())  # scoring drew nothing globally
    for p, it in zip(preds, items, strict=True):
        if it.is_grounding:
            x1, y1, x2, y2 = p.box
            assert 0 <= x1 <= x2 <= 1 and 0 <= y1 <= y2 <= 1 and p.answer_box == it.answer_box
        else:
            assert p.box is None and p.n_options == 2
    # deterministic: the fresh head is drawn from a fixed seed
    assert [p.box for p in BuiltinBackend().score(items, tmp_path)] == \
        [p.box for p in BuiltinBackend().score(items, tmp_path)]


def test_box_loss_values_and_gradient():
    gold = torch.tensor([[0.2, 0.2, 0.6, 0.6]])
    assert float(box_loss(gold.clone(), gold)) == pytest.approx(0.0, abs=1e-5)
    far = torch.tensor([[0.7, 0.7, 0.9, 0.9]], requires_grad=True)
    loss = box_loss(far, gold)
    # L1 mean(0.5, 0.5, 0.3, 0.3) + (1 - GIoU): no overlap, hull 0.7^2, union 0.16 + 0.04,
    # GIoU = 0 - (0.49 - 0.2) / 0.49
    assert float(loss.detach()) == pytest.approx(0.4 + 1 + 0.29 / 0.49, rel=1e-4)
    loss.backward()
    assert far.grad is not None and bool((far.grad[0, :2] > 0).all())  # pulled towards gold
