"""Items -> model inputs: chat prompt with the image, supervised answer, padding, length checks.

The prompt is exactly the item's ``Question-choice`` text after the image, rendered by the
checkpoint's own chat template with the generation prompt. The answer is the letter followed by
the template's end-of-turn marker (``B<|im_end|>`` for Qwen, `` B</s>`` for LLaVA-1.5), found by
rendering the conversation with and without the assistant turn. Prompt and answer are tokenised
separately and concatenated, so the boundary is exact: every prompt position (system, user text,
image tokens, ``<|im_start|>assistant\\n``) and every padding position is -100 in the labels.

Nothing is ever truncated. An item whose full length (image tokens expanded) exceeds
``max_length`` is an error naming the item: a silently cut image makes the model see
"image features and image tokens do not match" or, worse, train on half an image.

Grounding items (``answer_box``) are rendered in the backbone's own box convention
(:func:`box_style`): Qwen-VL processors get the question with :data:`QWEN_BOX_CLOSING` and learn
``<|box_start|>(x1,y1),(x2,y2)<|box_end|>`` with 0-1000 integers; every other backbone gets the
item's ``Question-choice`` (which asks for the canonical box) and learns the canonical text
``[0.123, 0.456, 0.789, 0.900]``. The answer of a grounding item is its rendered box, not a letter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from medmat.errors import MedmatError
from medmat.imaging import open_image, resolve_under_root
from medmat.qa.answers import LETTERS
from medmat.qa.boxes import render_box
from medmat.records import QAItem

IGNORE = -100
# keys that hold one value per token (padded along the sequence); everything else the processor
# returns (pixel_values, image_grid_thw, image_sizes, ...) is concatenated along dim 0
TOKEN_KEYS = ("input_ids", "attention_mask", "labels", "mm_token_type_ids", "token_type_ids")
# Qwen-VL answers in its own box tokens, so the prompt asks for a box without naming a format
QWEN_BOX_CLOSING = "Answer with its bounding box."
# a box reply stays short; the budget for one is this many times a rendered box's tokens
BOX_TOKEN_MARGIN = 2


def box_style(processor: Any) -> str:
    """The box convention of a backbone, from its processor classes: Qwen-VL or LLaVA-style.

    The image processor is looked at too: medmat wraps Qwen-VL's image processor in its own
    processor class when the hub one cannot load (see ``loading``)."""
    names = (type(processor).__name__, type(getattr(processor, "image_processor", None)).__name__)
    return "qwen2-vl" if any("qwen" in n.lower() for n in names) else "llava"


@dataclass
class Encoded:
    item_id: int
    input_ids: list[int]
    labels: list[int] | None = None
    token_extras: dict[str, list[int]] = field(default_factory=dict)
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)


class Encoder:
    """Builds prompts, labels and batches for one processor and length limit."""

    def __init__(self, processor: Any, max_length: int, pixel_hint: str = "") -> None:
        self.processor = processor
        self.tok = processor.tokenizer
        self.max_length = max_length
        self.pixel_hint = pixel_hint
        self.pad_id = self.tok.pad_token_id
        ids = {getattr(processor, "image_token_id", None),
               getattr(processor, "video_token_id", None)}
        image_token = getattr(processor, "image_token", None)
        if image_token is not None:
            ids.add(self.tok.convert_tokens_to_ids(image_token))
        self.image_token_ids = {i for i in ids if isinstance(i, int) and i >= 0}
        bos = self.tok.bos_token
        self._bos = bos
        self._suffix_ids: dict[str, list[int]] = {}  # letter -> answer token ids
        self._choice: dict[int, tuple[list[int], list[int]]] = {}  # n options -> letter ids
        self.box_style = box_style(processor)

    # ---- text ---------------------------------------------------------------------------------
    def user_text(self, item: QAItem) -> str:
        """The question as this backbone is asked it (grounding items per box convention)."""
        if item.is_grounding and self.box_style == "qwen2-vl":
            return item.question + "\n" + QWEN_BOX_CLOSING
        return item.question_choice

    def target(self, item: QAItem) -> str:
        """What the model must answer: the letter, or the box in this backbone's convention."""
        if item.is_grounding:
            return render_box(item.answer_box, self.box_style)  # type: ignore[arg-type]
        return item.answer_choice

    def box_budget(self, floor: int) -> int:
        """Tokens to generate for a box reply: a margin over a rendered box, at least ``floor``."""
        widest = render_box((0.123, 0.456, 0.789, 0.999), self.box_style)
        n = len(self.tok(widest, add_special_tokens=False)["input_ids"])
        return max(floor, BOX_TOKEN_MARGIN * n + 2)

    def messages(self, item: QAItem, letter: str | None = None) -> list[dict]:
        msgs: list[dict] = [{"role": "user", "content": [
            {"type": "image"}, {"type": "text", "text": self.user_text(item)}]}]
        if letter is not None:
            msgs.append({"role": "assistant", "content": [{"type": "text", "text": letter}]})
        return msgs

    def prompt_text(self, item: QAItem) -> str:
        return self.processor.apply_chat_template(
            self.messages(item), add_generation_prompt=True, tokenize=False)

    def _add_special(self, text: str) -> bool:
        # Templates usually render their own special tokens; add the tokenizer's BOS only when the
        # template does not start with it (LLaVA-1.5 templates rely on the tokenizer for <s>).
        return bool(self._bos) and not text.startswith(self._bos)

    def answer_ids(self, item: QAItem, letter: str, prompt: str | None = None) -> list[int]:
        """Token ids the model must produce after the prompt to answer ``letter``.

        Chat templates render the assistant turn independently of the user's text, so the
        suffix is computed once per letter (on the first item that needs it) and cached. A
        grounding item's answer (its box) differs per item and is not cached.
        """
        cache = not item.is_grounding
        if cache and letter in self._suffix_ids:
            return list(self._suffix_ids[letter])
        prompt = self.prompt_text(item) if prompt is None else prompt
        full = self.processor.apply_chat_template(self.messages(item, letter), tokenize=False)
        if full.startswith(prompt) and letter in full[len(prompt):]:
            suffix = full[len(prompt):].rstrip()
        else:  # a template that rewrites earlier turns: fall back to letter + EOS
            suffix = letter
        if suffix.strip() == letter and self.tok.eos_token:
            suffix = suffix + self.tok.eos_token
        ids = self.tok(suffix, add_special_tokens=False)["input_ids"]
        if cache:
            self._suffix_ids[letter] = ids
        return list(ids)

    def letter_choice(self, item: QAItem, prompt: str) -> tuple[list[int], list[int]]:
        """(shared prefix ids, one distinct next-token id per option letter) for likelihood."""
        n = len(item.options)
        if n not in self._choice:
            seqs = [self.answer_ids(item, LETTERS[i], prompt) for i in range(n)]
            common = 0
            while all(len(s) > common + 1 for s in seqs) and len({s[common] for s in seqs}) == 1:
                common += 1
            firsts = [s[common] for s in seqs]
            if len(set(firsts)) != len(firsts):
                raise MedmatError(
                    f"item {item.id}: the option letters do not start with distinct tokens in "
                    "this tokenizer, so likelihood scoring cannot compare them; use mode: generate"
                )
            self._choice[n] = (seqs[0][:common], firsts)
        prefix, firsts = self._choice[n]
        return list(prefix), list(firsts)

    def end_token_ids(self, item: QAItem) -> list[int]:
        """Tokens that end an answer turn (EOS and the template's end-of-turn marker)."""
        ends = {self.tok.eos_token_id, self.answer_ids(item, "A")[-1]}
        return sorted(i for i in ends if isinstance(i, int))

    # ---- images + tokens ----------------------------------------------------------------------
    def load_image(self, item: QAItem, image_root: Path) -> Image.Image:
        try:
            return open_image(resolve_under_root(image_root, item.image), "RGB")
        except MedmatError as exc:
            raise MedmatError(f"item {item.id}: {exc}") from None

    def encode(self, item: QAItem, image: Image.Image, letter: str | None = None,
               extra_prompt_ids: Sequence[int] = (), prompt: str | None = None) -> Encoded:
        """Tokenise one item; with ``letter`` also build the labels (training)."""
        prompt = self.prompt_text(item) if prompt is None else prompt
        enc = self.processor(text=[prompt], images=[image], return_tensors="pt",
                             add_special_tokens=self._add_special(prompt))
        ids = enc["input_ids"][0].tolist()
        n_prompt = len(ids)
        answer = self.answer_ids(item, letter, prompt) if letter is not None else []
        ids = ids + list(extra_prompt_ids) + answer
        self.check_length(item, len(ids), sum(t in self.image_token_ids for t in ids))
        extras: dict[str, list[int]] = {}
        tensors: dict[str, torch.Tensor] = {}
        for key, value in enc.items():
            if key in ("input_ids", "attention_mask"):
                continue
            if key in TOKEN_KEYS:
                row = value[0].tolist()
                extras[key] = row + [0] * (len(ids) - len(row))
            elif isinstance(value, torch.Tensor):
                tensors[key] = value
        labels = None
        if letter is not None:
            n_masked = n_prompt + len(extra_prompt_ids)
            labels = [IGNORE] * n_masked + answer
            image_ids = self.image_token_ids
            labels = [IGNORE if t in image_ids else lab
                      for t, lab in zip(ids, labels, strict=True)]
        return Encoded(item.id, ids, labels, extras, tensors)

    def check_length(self, item: QAItem, n_tokens: int, n_image: int) -> None:
        if n_tokens > self.max_length:
            raise MedmatError(
                f"item {item.id} ({item.image}): {n_tokens} tokens including {n_image} image "
                f"tokens exceed max_length={self.max_length}; nothing is truncated, so raise "
                f"backend_options.max_length or lower backend_options.max_pixels{self.pixel_hint}"
            )

    # ---- batches ------------------------------------------------------------------------------
    def collate(self, feats: Sequence[Encoded], pad_left: bool = False) -> dict[str, torch.Tensor]:
        width = max(len(f.input_ids) for f in feats)

        def pad(row: list[int], value: int) -> list[int]:
            fill = [value] * (width - len(row))
            return fill + row if pad_left else row + fill

        batch: dict[str, Any] = {
            "input_ids": torch.tensor([pad(f.input_ids, self.pad_id) for f in feats]),
            "attention_mask": torch.tensor([pad([1] * len(f.input_ids), 0) for f in feats]),
        }
        if feats[0].labels is not None:
            batch["labels"] = torch.tensor([pad(f.labels or [], IGNORE) for f in feats])
        for key in feats[0].token_extras:
            batch[key] = torch.tensor([pad(f.token_extras[key], 0) for f in feats])
        for key in feats[0].tensors:
            batch[key] = torch.cat([f.tensors[key] for f in feats], dim=0)
        return batch

    # ---- preflight ----------------------------------------------------------------------------
    def preflight(self, items: Sequence[QAItem], image_root: Path, with_answer: bool) -> None:
        """Check every item's full length before any work, from image sizes (no pixel decoding).

        Dynamic-resolution processors (Qwen-VL) say how many patches an image of a given size
        becomes; fixed-resolution ones (LLaVA) give every image the same count, measured on the
        first item. ``encode`` checks the exact length again, so this only moves errors earlier.
        """
        if not items:
            return
        ip = self.processor.image_processor
        merge = getattr(ip, "merge_size", None)
        dynamic = merge is not None and hasattr(ip, "get_number_of_image_patches")
        first = items[0]
        exact = self.encode(first, self.load_image(first, image_root),
                            self.target(first) if with_answer else None)
        fixed_image = sum(t in self.image_token_ids for t in exact.input_ids)
        for item in items:
            prompt = self.prompt_text(item)
            add = self._add_special(prompt)
            n_text = len(self.tok(prompt, add_special_tokens=add)["input_ids"])
            n_text -= 1  # the single image placeholder is replaced by the image tokens
            if dynamic:
                path = resolve_under_root(image_root, item.image)
                try:
                    with Image.open(path) as img:
                        width, height = img.size
                except (OSError, ValueError) as exc:
                    raise MedmatError(
                        f"item {item.id}: {path}: not a readable image ({exc})") from None
                n_image = ip.get_number_of_image_patches(height, width) // (merge * merge)
            else:
                n_image = fixed_image
            if with_answer and item.is_grounding:
                n_answer = len(self.answer_ids(item, self.target(item), prompt))
            else:
                n_answer = max((len(self.answer_ids(item, LETTERS[i], prompt))
                                for i in range(len(item.options))),
                               default=0) if with_answer else 0
            self.check_length(item, n_text + n_image + n_answer, n_image)
