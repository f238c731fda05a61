"""Tiny random multimodal checkpoints (Qwen2-VL, Qwen2.5-VL, LLaVA) for tests and benchmarks.

No weights are downloaded: a byte-level BPE tokenizer is trained on the fly on a small medical
corpus, the special tokens of each family are added, and a model with a few thousand parameters
is built from a config. The folder saved by :func:`build_tiny_model` loads with
``AutoModelForImageTextToText.from_pretrained`` and with ``HFBackend(model=FOLDER)`` exactly like
a real hub checkpoint, so the same code path is exercised in CI as on a GPU.

``python -m medmat.testing.tiny_models --arch qwen2_vl --out DIR`` writes one from the command line;
``--shape qwen2-vl-2b`` gives a randomly initialised model with Qwen2-VL-2B's dimensions (for
GPU benchmarks, no download).
"""

from __future__ import annotations

import argparse
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medmat.errors import MedmatError
from medmat.io import write_bytes
from medmat.records import QAItem
from medmat.train.hf.checkpoint import atomic_dir

ARCHS = ("qwen2_vl", "qwen2_5_vl", "llava")

# Newlines are written as {{ '\n' }}: transformers renders chat templates with trim_blocks, which
# would eat a literal newline that follows a block tag.
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}{{ '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "<|im_end|>{{ '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant{{ '\n' }}{% endif %}"
)

# LLaVA-1.5 style: "USER: <image>\nquestion ASSISTANT: B</s>"
LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}USER: {% else %}ASSISTANT: {% endif %}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<image>{{ '\n' }}"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{% if message['role'] == 'user' %} {% else %}</s>{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)

QWEN_SPECIAL = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
    "<|image_pad|>", "<|video_pad|>",
]
LLAVA_SPECIAL = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]

_WORDS = (
    "What is the modality of this image? Which anatomical area is shown? What disease does this "
    "image show? Which grade is visible? Is the lesion benign or malignant? normal abnormal "
    "CT MRI X-ray ultrasound fundus photograph OCT dermoscopy endoscopy microscopy colposcopy "
    "dental photography lung brain skin retina kidney bones breast cell cervix mouth intestine "
    "bladder chest liver thyroid abdomen colon blood COVID-19 cancer pneumonia tuberculosis "
    "fracture hemorrhage tumor glioma meningioma pituitary no tumor melanoma nevus keratosis "
    "cataract glaucoma diabetic retinopathy mild moderate severe proliferative none healthy "
    "The answer is Answer: Options: A. B. C. D. E. F. (A) (B) (C) (D) A B C D E F "
    "Please answer with the option's letter from the given choices directly."
)


def _corpus() -> list[str]:
    lines = [_WORDS]
    for letter in "ABCDEF":
        lines.append(f"{letter}. {letter} ({letter}) The answer is {letter}. Answer: {letter}")
    return lines * 4


def _train_bpe(special: list[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer)
    return tok


def build_qwen2_vl_tokenizer(vocab_size: int = 600):
    """A Qwen2Tokenizer with the Qwen2-VL special tokens and chat template (ids < vocab_size)."""
    from transformers import Qwen2Tokenizer

    bpe = _train_bpe(QWEN_SPECIAL, vocab_size)
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    tok = Qwen2Tokenizer(vocab=model["vocab"], merges=merges, eos_token="<|im_end|>",
                         pad_token="<|endoftext|>", unk_token=None)
    tok.add_special_tokens({"additional_special_tokens": QWEN_SPECIAL[1:]})
    tok.chat_template = QWEN_CHAT_TEMPLATE
    return tok


def build_llava_tokenizer(vocab_size: int = 600):
    from transformers import PreTrainedTokenizerFast

    bpe = _train_bpe(LLAVA_SPECIAL, vocab_size)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
        pad_token="<pad>", extra_special_tokens={"image_token": "<image>"},
    )
    tok.chat_template = LLAVA_CHAT_TEMPLATE
    return tok


@dataclass(frozen=True)
class Shape:
    """Model dimensions; the defaults are the tiny test model."""

    hidden: int = 32
    layers: int = 3
    heads: int = 4
    kv_heads: int = 2
    intermediate: int = 64
    vision_depth: int = 2
    vision_dim: int = 32
    vision_heads: int = 4
    vision_mlp_ratio: int = 2
    vocab_size: int | None = None  # None: the tokenizer's size
    tie_word_embeddings: bool = False


# Qwen2-VL-2B-Instruct's public config.json (text 1536x28, vision 1280x32, vocab 151936).
QWEN2_VL_2B = Shape(hidden=1536, layers=28, heads=12, kv_heads=2, intermediate=8960,
                    vision_depth=32, vision_dim=1280, vision_heads=16, vision_mlp_ratio=4,
                    vocab_size=151936, tie_word_embeddings=True)
# Qwen2-VL-7B-Instruct's public config.json (text 3584x28, 28 heads / 4 KV, same vision tower).
QWEN2_VL_7B = Shape(hidden=3584, layers=28, heads=28, kv_heads=4, intermediate=18944,
                    vision_depth=32, vision_dim=1280, vision_heads=16, vision_mlp_ratio=4,
                    vocab_size=152064, tie_word_embeddings=False)
# Between the two: big enough on CPU that model compute, not Python overhead, dominates.
SMALL = Shape(hidden=256, layers=4, heads=4, kv_heads=2, intermediate=1024, vision_depth=2,
              vision_dim=128, vision_heads=4, vision_mlp_ratio=4, vocab_size=32000)
SHAPES = {"tiny": Shape(), "small": SMALL, "qwen2-vl-2b": QWEN2_VL_2B,
          "qwen2-vl-7b": QWEN2_VL_7B}


def _qwen2_vl(out: Path, shape: Shape, seed: int, dtype: Any, device: str,
              v2_5: bool = False) -> None:
    """Qwen2-VL, or Qwen2.5-VL with ``v2_5`` (windowed vision tower, same tokens/processor)."""
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
    )
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    from medmat.train.hf.loading import ImageOnlyQwenVLProcessor

    tok = build_qwen2_vl_tokenizer()
    ids = {t: tok.convert_tokens_to_ids(t) for t in QWEN_SPECIAL}
    head_dim = shape.hidden // shape.heads
    # mrope sections (temporal, height, width) sum to head_dim / 2 ([16, 24, 24] for 128)
    quarter = max(head_dim * 3 // 16, 1)
    mrope = [head_dim // 2 - 2 * quarter, quarter, quarter]
    vision = {"depth": shape.vision_depth, "num_heads": shape.vision_heads, "patch_size": 14,
              "spatial_merge_size": 2, "temporal_patch_size": 2}
    if v2_5:
        vision.update(hidden_size=shape.vision_dim, out_hidden_size=shape.hidden,
                      intermediate_size=shape.vision_dim * shape.vision_mlp_ratio,
                      window_size=56, fullatt_block_indexes=[shape.vision_depth - 1])
    else:
        vision.update(embed_dim=shape.vision_dim, hidden_size=shape.hidden,
                      mlp_ratio=shape.vision_mlp_ratio)
    config_class = Qwen2_5_VLConfig if v2_5 else Qwen2VLConfig
    config = config_class(
        text_config={
            "vocab_size": shape.vocab_size or len(tok), "hidden_size": shape.hidden,
            "intermediate_size": shape.intermediate, "num_hidden_layers": shape.layers,
            "num_attention_heads": shape.heads, "num_key_value_heads": shape.kv_heads,
            "max_position_embeddings": 32768, "rms_norm_eps": 1e-6,
            "rope_parameters": {"rope_type": "default", "mrope_section": mrope,
                                "rope_theta": 1000000.0},
            "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=shape.tie_word_embeddings,
    )
    model_class = Qwen2_5_VLForConditionalGeneration if v2_5 else Qwen2VLForConditionalGeneration
    torch.manual_seed(seed)
    with torch.device(device):
        model = model_class(config).to(dtype).eval()
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.save_pretrained(out)
    image_processor = Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=112 * 112)
    ImageOnlyQwenVLProcessor(
        image_processor=image_processor, tokenizer=tok, chat_template=QWEN_CHAT_TEMPLATE
    ).save_pretrained(out)


def _qwen2_5_vl(out: Path, shape: Shape, seed: int, dtype: Any, device: str) -> None:
    _qwen2_vl(out, shape, seed, dtype, device, v2_5=True)


def _llava(out: Path, shape: Shape, seed: int, dtype: Any, device: str) -> None:
    import torch
    from transformers import LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tok = build_llava_tokenizer()
    image_size = 28  # 2x2 patches of 14 px (+1 CLS token dropped by the "default" strategy)
    config = LlavaConfig(
        vision_config={
            "model_type": "clip_vision_model", "hidden_size": shape.vision_dim,
            "intermediate_size": shape.vision_dim * shape.vision_mlp_ratio,
            "num_hidden_layers": shape.vision_depth, "num_attention_heads": shape.vision_heads,
            "image_size": image_size, "patch_size": 14, "projection_dim": shape.vision_dim,
        },
        text_config={
            "model_type": "llama", "vocab_size": shape.vocab_size or len(tok),
            "hidden_size": shape.hidden, "intermediate_size": shape.intermediate,
            "num_hidden_layers": shape.layers, "num_attention_heads": shape.heads,
            "num_key_value_heads": shape.kv_heads, "max_position_embeddings": 4096,
            "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id,
        },
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        image_seq_length=(image_size // 14) ** 2,
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
        tie_word_embeddings=shape.tie_word_embeddings,
    )
    torch.manual_seed(seed)
    with torch.device(device):
        model = LlavaForConditionalGeneration(config).to(dtype).eval()
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.save_pretrained(out)
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    LlavaProcessor(
        image_processor=image_processor, tokenizer=tok, patch_size=14,
        vision_feature_select_strategy="default", num_additional_image_tokens=1,
        chat_template=LLAVA_CHAT_TEMPLATE,
    ).save_pretrained(out)


def build_tiny_model(
    out: str | Path,
    arch: str = "qwen2_vl",
    *,
    shape: Shape | str = "tiny",
    seed: int = 0,
    dtype: str = "float32",
    device: str = "cpu",
) -> Path:
    """Write a random ``arch`` checkpoint (model + tokenizer + processor) to ``out``.

    ``shape`` is a :class:`Shape` or a preset name (``tiny``, ``qwen2-vl-2b``); the tokenizer is
    always the small one trained on the fly, so a 2B-shaped model keeps its 151,936-row
    embedding and output head (the compute is real) while using only the first ids.
    """
    import torch

    if arch not in ARCHS:
        raise MedmatError(f"unknown tiny architecture {arch!r}; choose one of {ARCHS}")
    if isinstance(shape, str):
        if shape not in SHAPES:
            raise MedmatError(f"unknown shape {shape!r}; choose one of {sorted(SHAPES)}")
        shape = SHAPES[shape]
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise MedmatError(f"{out}: folder exists and is not empty; choose a new --out folder")
    build: Any = {"qwen2_vl": _qwen2_vl, "qwen2_5_vl": _qwen2_5_vl, "llava": _llava}[arch]
    # written under a temporary name and renamed: a killed run leaves no half checkpoint
    with atomic_dir(out) as tmp:
        build(tmp, shape, seed, getattr(torch, dtype), device)
    return out


def synthetic_items(root: str | Path, n: int, size: int = 56, seed: int = 0,
                    answer: str | None = None) -> list[QAItem]:
    """``n`` four-option QA items over random ``size``x``size`` PNGs written under ``root``.

    For smoke tests and benchmarks only (the images carry no signal; use ``medmat synth`` for
    a lab where the answer is visible). ``answer`` fixes every answer letter.
    """
    import numpy as np
    from PIL import Image

    root = Path(root)
    (root / "bench").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    options = ("lung", "brain", "skin", "no tumor")
    question = "Which anatomical area is shown in this image?"
    choice = question + "\n" + "\n".join(f"{'ABCD'[k]}. {o}" for k, o in enumerate(options))
    items = []
    for i in range(n):
        rel = f"bench/{i}.png"
        pixels = (rng.random((size, size, 3)) * 255).astype("uint8")
        if not (root / rel).exists():
            buf = io.BytesIO()
            Image.fromarray(pixels).save(buf, format="PNG")
            write_bytes(root / rel, buf.getvalue())  # atomic: other processes may read it
        letter = answer or "ABCD"[int(rng.integers(4))]
        items.append(QAItem(
            id=i, caption="", image=rel, question=question, answer=options["ABCD".index(letter)],
            question_choice=choice, answer_choice=letter, data_no="00", options=options,
            modality="CT", area="Lung", task="disease", subset="00", split="train",
            record_id=f"bench{i}",
        ))
    return items


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=ARCHS, default="qwen2_vl")
    parser.add_argument("--out", required=True, help="folder to write the checkpoint into")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="tiny",
                        help="tiny (tests), small, or qwen2-vl-2b (the real model's dimensions)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--device", default="cpu", help="where to initialise (cpu or cuda)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = build_tiny_model(args.out, args.arch, shape=args.shape, seed=args.seed,
                            dtype=args.dtype, device=args.device)
    print(f"wrote random {args.shape} {args.arch} checkpoint to {path}")


if __name__ == "__main__":
    from medmat.failures import run_guarded

    run_guarded(main)  # one-line errors like every medmat command
