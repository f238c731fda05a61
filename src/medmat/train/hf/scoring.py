"""Answer items with a loaded model: option likelihood (default) or generation.

*Likelihood*: one forward pass per item over the prompt (left-padded batches, only the last
position's logits computed); the next-token logits of the offered letters are compared. The
record's ``scores`` are the option probabilities (softmax over the letters' logits, in option
order), ``predicted`` the argmax. No decoding, so there is no "no answer" in this mode.

*Generate*: greedy decoding up to ``max_new_tokens``; the text goes through
:func:`medmat.qa.answers.extract_answer` (the answer protocol shared with the exports), and an
empty or unparseable reply is recorded as ``predicted=None`` ("no answer"), never as a letter.
``scores`` is empty.

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


@torch.inference_mode()
def score_generate(model: Any, encoder: Encoder, items: Sequence[QAItem], image_root: Path,
                   batch_size: int, device: torch.device, autocast: Any, max_new_tokens: int,
                   progress: ProgressFn | None = None, texts: dict[int, str] | None = None,
                   workers: int = 0) -> list[Prediction]:
    preds: list[Prediction] = []
    if not items:
        return preds
    stop = encoder.end_token_ids(items[0])

    def collate(chunk: list[QAItem]):
        feats = [encoder.encode(item, encoder.load_image(item, image_root)) for item in chunk]
        return encoder.collate(feats, pad_left=True), chunk

    for batch, chunk in _loader(items, batch_size, collate, workers):
        batch = _device_batch(batch, device)
        with autocast():
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                 num_beams=1, eos_token_id=stop, pad_token_id=encoder.pad_id,
                                 temperature=None, top_p=None, top_k=None)
        new = out[:, batch["input_ids"].shape[1]:]
        replies = encoder.tok.batch_decode(new, skip_special_tokens=True)
        for item, reply in zip(chunk, replies, strict=True):
            if texts is not None:
                texts[item.id] = reply
            preds.append(Prediction(item_id=item.id, answer=item.answer_choice,
                                    predicted=extract_answer(reply, item.options),
                                    n_options=len(item.options)))
        if progress is not None:
            progress(len(preds), len(items))
    return preds
