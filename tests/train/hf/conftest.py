"""Fixtures for the hf backend: tiny random Qwen2-VL / LLaVA checkpoints and a few QA items."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("accelerate")

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from medmat.records import QAItem  # noqa: E402
from medmat.testing.tiny_models import build_tiny_model  # noqa: E402

OPTIONS = ("lung", "brain", "skin", "no tumor")


@pytest.fixture(autouse=True)
def _one_thread():
    # Two OpenMP threads on a shared 2-core CI box spin against other processes and make tiny
    # matmuls 100x slower; one thread keeps these tests fast and deterministic.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def qwen_path(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "qwen2_vl", "qwen2_vl")


@pytest.fixture(scope="session")
def llava_path(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "llava", "llava")


def _hub_like(src: Path, dest: Path, processor_class: str) -> Path:
    """A copy whose processor_config names the hub's processor class, whose AutoProcessor
    needs torchvision (absent here) for the video processor."""
    shutil.copytree(src, dest)
    cfg_path = dest / "processor_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["processor_class"] = processor_class
    cfg_path.write_text(json.dumps(cfg))
    return dest


@pytest.fixture(scope="session")
def qwen_hub_like(qwen_path, tmp_path_factory) -> Path:
    return _hub_like(qwen_path, tmp_path_factory.mktemp("hub") / "qwen2_vl", "Qwen2VLProcessor")


@pytest.fixture(scope="session")
def qwen25_hub_like(tmp_path_factory) -> Path:
    tiny = build_tiny_model(tmp_path_factory.mktemp("tiny") / "qwen2_5_vl", "qwen2_5_vl")
    return _hub_like(tiny, tmp_path_factory.mktemp("hub") / "qwen2_5_vl", "Qwen2_5_VLProcessor")


def make_item(i: int, answer: str, image: str, options=OPTIONS) -> QAItem:
    question = "Which anatomical area is shown in this image?"
    choice = question + "\n" + "\n".join(f"{'ABCD'[k]}. {o}" for k, o in enumerate(options))
    return QAItem(
        id=i, caption="", image=image, question=question, answer=options["ABCD".index(answer)],
        question_choice=choice, answer_choice=answer, data_no="01", options=tuple(options),
        modality="CT", area="Lung", task="disease", subset="01", split="train",
        record_id=f"r{i}",
    )


@pytest.fixture(scope="session")
def image_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    (root / "img").mkdir()
    for i in range(8):
        pixels = (rng.random((56, 56, 3)) * 255).astype("uint8")
        Image.fromarray(pixels).save(root / "img" / f"{i}.png")
    # a larger image: 112x112 -> 16 image tokens with the tiny processor's pixel budget
    Image.fromarray((rng.random((112, 112, 3)) * 255).astype("uint8")).save(root / "big.png")
    return root


@pytest.fixture(scope="session")
def items() -> list[QAItem]:
    return [make_item(i, "ABCD"[i % 4], f"img/{i}.png") for i in range(8)]


@pytest.fixture(scope="session")
def items_all_b() -> list[QAItem]:
    """Every answer is B: a model trained on these must learn to say B."""
    return [make_item(i, "B", f"img/{i}.png") for i in range(8)]
