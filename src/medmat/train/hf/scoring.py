"""Answer items with a loaded model: option likelihood (default) or generation.

*Likelihood*: one forward pass per item over the prompt (left-padded batches, only the last
position's logits computed); the next-token logits of the offered letters are compared. The
record's ``scores`` are the option probabilities (softmax over the letters' logits, in option
order), ``predicted`` the argmax. No decoding, so there is no "no answer" in this mode.

*Generate*: greedy decoding up to ``max_new_tokens``; the text goes through
:func:`medmat.qa.answers.extract_answer` (the answer protocol shared with the exports), and an
empty or unparseable reply is recorded as ``predicted=None`` ("no answer"), never as a letter.
``scores`` is empty.

*Boxes*: grounding items always generate, whatever the mode (a box has no fixed set of
answers whose likelihoods could be compared): greedy decoding up to the encoder's box budget, the
reply cut at the first end token and decoded *with* special tokens (Qwen's ``<|box_start|>``
marks its 0-1000 scale), then :func:`medmat.qa.boxes.parse_box` in the backbone's style. A reply
with no readable box is a miss: ``box=None`` and ``predicted=None``, never a guess.

Under ``accelerate launch`` the items are split between processes and the predictions gathered,
so every process returns the full list in item order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from medmat.qa.answers import LETTERS, extract_answer
from medmat.qa.boxes import format_box, parse_box
from medmat.records import Prediction, QAItem
from medmat.train.hf.encoding import Encoder
from medmat.train.interface import ProgressFn


def _device_batch(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device) for k, v in batch.items()}


def _loader(items: Sequence[QAItem], batch_size: int, collate: Callable, workers: int):
    """Batches prepared in ``workers`` processes (image decoding overlaps the model on GPU)."""
    return DataLoader(list(items), batch_size=batch_size, shuffle=False, collate_fn=collate,
                      num_workers=workers)


@torch.inference_mode()
def score_likelihood(model: Any, encoder: Encoder, items: Sequence[QAItem], image_root: Path,
                     batch_size: int, device: torch.device, autocast: Any,
                     progress: ProgressFn | None = None, workers: int = 0) -> list[Prediction]:
    def collate(chunk: list[QAItem]):
        feats, letter_ids = [], []
        for item in chunk:
            prompt = encoder.prompt_text(item)
            prefix, firsts = encoder.letter_choice(item, prompt)
            feats.append(encoder.encode(item, encoder.load_image(item, image_root),
                                        extra_prompt_ids=prefix, prompt=prompt))
            letter_ids.append(firsts)
        return encoder.collate(feats, pad_left=True), letter_ids, chunk

    preds: list[Prediction] = []
    for batch, letter_ids, chunk in _loader(items, batch_size, collate, workers):
        batch = _device_batch(batch, device)
        with autocast():
            logits = model(**batch, logits_to_keep=1).logits[:, -1, :].float()
        for item, ids, row in zip(chunk, letter_ids, logits, strict=True):
            probs = torch.softmax(row[ids], dim=-1).tolist()
            best = max(range(len(probs)), key=probs.__getitem__)
            preds.append(Prediction(item_id=item.id, answer=item.answer_choice,
                                    predicted=LETTERS[best], n_options=len(item.options),
                                    scores=tuple(float(p) for p in probs)))
        if progress is not None:
            progress(len(preds), len(items))
    return preds


def _generated(model: Any, encoder: Encoder, items: Sequence[QAItem], image_root: Path,
               batch_size: int, device: torch.device, autocast: Any, max_new_tokens: int,
               workers: int):
    """Greedy generation, batch by batch: lists of (item, new token ids, image size)."""
    stop = encoder.end_token_ids(items[0])

    def collate(chunk: list[QAItem]):
        images = [encoder.load_image(item, image_root) for item in chunk]
        feats = [encoder.encode(item, image) for item, image in zip(chunk, images, strict=True)]
        return encoder.collate(feats, pad_left=True), chunk, [im.size for im in images]

    for batch, chunk, sizes in _loader(items, batch_size, collate, workers):
        batch = _device_batch(batch, device)
        with autocast():
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                 num_beams=1, eos_token_id=stop, pad_token_id=encoder.pad_id,
                                 temperature=None, top_p=None, top_k=None)
        rows = out[:, batch["input_ids"].shape[1]:].tolist()
        yield list(zip(chunk, rows, sizes, strict=True))


@torch.inference_mode()
def score_generate(model: Any, encoder: Encoder, items: Sequence[QAItem], image_root: Path,
                   batch_size: int, device: torch.device, autocast: Any, max_new_tokens: int,
                   progress: ProgressFn | None = None, texts: dict[int, str] | None = None,
                   workers: int = 0) -> list[Prediction]:
    preds: list[Prediction] = []
    if not items:
        return preds
    for done in _generated(model, encoder, items, image_root, batch_size, device, autocast,
                           max_new_tokens, workers):
        replies = encoder.tok.batch_decode([row for _, row, _ in done], skip_special_tokens=True)
        for (item, _, _), reply in zip(done, replies, strict=True):
            if texts is not None:
                texts[item.id] = reply
            preds.append(Prediction(item_id=item.id, answer=item.answer_choice,
                                    predicted=extract_answer(reply, item.options),
                                    n_options=len(item.options)))
        if progress is not None:
            progress(len(preds), len(items))
    return preds


@torch.inference_mode()
def score_boxes(model: Any, encoder: Encoder, items: Sequence[QAItem], image_root: Path,
                batch_size: int, device: torch.device, autocast: Any, max_new_tokens: int,
                progress: ProgressFn | None = None, texts: dict[int, str] | None = None,
                workers: int = 0) -> list[Prediction]:
    """Grounding items: generate a box reply and parse it (see the module docstring)."""
    preds: list[Prediction] = []
    if not items:
        return preds
    stop = encoder.end_token_ids(items[0])
    for done in _generated(model, encoder, items, image_root, batch_size, device, autocast,
                           encoder.box_budget(max_new_tokens), workers):
        for item, row, size in done:
            # box tokens may be special tokens (Qwen's <|box_start|>): decode up to the stop
            # token without skipping them
            ends = [k for k, t in enumerate(row) if t in stop]
            reply = encoder.tok.decode(row[:ends[0]] if ends else row, skip_special_tokens=False)
            if texts is not None:
                texts[item.id] = reply
            box = parse_box(reply, image_size=size, style=encoder.box_style)
            preds.append(Prediction(item_id=item.id, answer=item.answer,
                                    predicted=format_box(box) if box is not None else None,
                                    n_options=0, box=box, answer_box=item.answer_box))
        if progress is not None:
            progress(len(preds), len(items))
    return preds
