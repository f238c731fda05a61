"""``HFBackend``: the Backend protocol on top of Hugging Face multimodal LLMs.

``fit`` fine-tunes (LoRA by default) and keeps everything in ``work_dir`` (layout in
:mod:`medmat.train.hf.checkpoint`); ``score`` answers items by option likelihood or generation.
Without ``fit``, ``score`` evaluates the base checkpoint (zero-shot). Grounding items train on
their box text and are always answered by generation (:func:`score_boxes`), in either mode.
"""

from __future__ import annotations

import atexit
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from medmat.errors import MedmatError
from medmat.io import write_json
from medmat.records import Prediction, QAItem
from medmat.train.hf import checkpoint as ckpt
from medmat.train.hf.encoding import Encoder
from medmat.train.hf.loading import (
    apply_lora,
    freeze_for_full_finetuning,
    load_adapter,
    load_model,
    load_processor,
    set_checkpointing,
    set_use_cache,
)
from medmat.train.hf.options import HFOptions, fingerprint
from medmat.train.hf.scoring import score_boxes, score_generate, score_likelihood
from medmat.train.hf.training import TrainResult, train
from medmat.train.interface import ProgressFn


def items_digest(items: Sequence[QAItem]) -> str:
    # a grounding item adds its box (only then, so classification digests stay as they were)
    return fingerprint([[i.id, i.image, i.question_choice, i.answer_choice, list(i.options)]
                        + ([i.answer] if i.is_grounding else []) for i in items])


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def _close_process_group() -> None:
    """Tear down the process group at exit. Each backend that sets up an accelerator under a
    process group registers this; later calls find the group gone. Left to interpreter
    shutdown, a gloo rank whose peer already exited can abort ("terminate called without an
    active exception", SIGABRT) after a run that succeeded, and `accelerate launch` then
    reports the whole run as failed (seen once with two CPU ranks in the test suite)."""
    if _distributed():
        torch.distributed.destroy_process_group()


class HFBackend:
    """Backend ``hf``: any AutoModelForImageTextToText checkpoint with a chat template."""

    name = "hf"

    def __init__(self, **options: Any) -> None:
        self.opts = HFOptions.from_kwargs(**options)
        self._processor: Any = None
        self._encoder: Encoder | None = None
        self._model: Any = None
        self._accelerator: Any = None
        self.fitted = False
        self.last_train: TrainResult | None = None
        self.last_replies: dict[int, str] = {}  # generate mode: raw reply per item id
        self.last_misses = 0  # grounding items of the last score() with no readable box

    # ---- environment --------------------------------------------------------------------------
    @property
    def on_gpu(self) -> bool:
        return self.opts.device != "cpu" and torch.cuda.is_available()

    @property
    def use_bf16(self) -> bool:
        if self.opts.bf16 == "auto":
            return self.on_gpu and torch.cuda.is_bf16_supported()
        return bool(self.opts.bf16)

    @property
    def use_gradient_checkpointing(self) -> bool:
        if self.opts.gradient_checkpointing == "auto":
            return self.on_gpu
        return bool(self.opts.gradient_checkpointing)

    @property
    def accelerator(self) -> Any:
        # Precision is not passed to Accelerator: its state is a per-process singleton that
        # refuses a second, different precision (two backends in one experiment). bf16 is our
        # own autocast instead (see ``autocast``); under `accelerate launch` the config's
        # mixed_precision should say the same (examples/accelerate-*.yaml use bf16).
        if self._accelerator is None:
            from accelerate import Accelerator

            try:
                self._accelerator = Accelerator(
                    cpu=self.opts.device == "cpu",
                    gradient_accumulation_steps=self.opts.grad_accum,
                )
            except ValueError as exc:
                raise MedmatError(
                    f"backend_options.device={self.opts.device!r}: accelerate is already set up "
                    f"differently in this process ({exc}); use one device setting per run"
                ) from None
            if _distributed():
                atexit.register(_close_process_group)
        return self._accelerator

    def autocast(self) -> Any:
        """bf16 autocast on the accelerator's device when bf16 is on, else nothing."""
        if not self.use_bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.accelerator.device.type, dtype=torch.bfloat16)

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._processor = load_processor(self.opts)
            hint = f" (now {self.opts.max_pixels})" if self.opts.max_pixels else ""
            self._encoder = Encoder(self._processor, self.opts.max_length, hint)
        return self._encoder

    @property
    def processor(self) -> Any:
        return self.encoder.processor

    @property
    def model(self) -> Any:
        """The model ``score`` uses: the fine-tuned one after ``fit``, else the base checkpoint."""
        if self._model is None:
            self._model = self._ready(load_model(self.opts, self._dtype(training=False)))
        return self._model

    def _dtype(self, training: bool) -> torch.dtype:
        # LoRA keeps the frozen base in bf16 (adapters stay fp32); full fine-tuning keeps fp32
        # master weights and relies on autocast, since AdamW on bf16 weights loses updates.
        if self.use_bf16 and (not training or self.opts.lora):
            return torch.bfloat16
        return torch.float32

    def _ready(self, model: Any) -> Any:
        set_use_cache(model, True)
        if self.use_gradient_checkpointing:
            set_checkpointing(model, False)
        return model.to(self.accelerator.device).eval()

    def _fingerprint(self, items: Sequence[QAItem], seed: int) -> str:
        return fingerprint({"options": self.opts.training_dict(), "seed": seed,
                            "items": items_digest(items)})

    # ---- training -----------------------------------------------------------------------------
    def fit(self, items: Sequence[QAItem], image_root: Path, work_dir: Path, *, seed: int,
            progress: ProgressFn | None = None) -> None:
        work_dir, image_root = Path(work_dir), Path(image_root)
        fp = self._fingerprint(items, seed)
        done = ckpt.read_done(work_dir)
        if done is not None:
            if done.get("fingerprint") != fp:
                raise MedmatError(
                    f"{work_dir}: holds a finished hf model trained with other options, seed or "
                    "items; use a new work dir (or delete this one) to train again"
                )
            self.load_trained(work_dir)
            return
        if not items:
            raise MedmatError("hf backend: no training items (the train split is empty)")
        from accelerate.utils import set_seed

        acc = self.accelerator
        self._model = None  # a zero-shot model loaded by an earlier score() is not needed
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        self.encoder.preflight(items, image_root, with_answer=True)
        set_seed(seed)  # LoRA initialisation and dropout draw from these generators
        model = load_model(self.opts, self._dtype(training=True))
        set_use_cache(model, False)
        if self.use_gradient_checkpointing:
            set_checkpointing(model, True)
        if self.opts.lora:
            model = apply_lora(model, self.opts)
        else:
            freeze_for_full_finetuning(model, self.opts.train_vision)
        result, model = train(acc, model, self.encoder, items, image_root, work_dir, self.opts,
                              seed=seed, fingerprint=fp, progress=progress,
                              autocast=self.autocast)
        self.last_train = result
        acc.wait_for_everyone()
        trained = acc.unwrap_model(model)
        state = acc.get_state_dict(model)  # every rank: ZeRO-3 gathers the shards here
        if acc.is_main_process:

            def save(folder: Path) -> None:
                trained.save_pretrained(folder, state_dict=state, safe_serialization=True)
                if not self.opts.lora:
                    self.processor.save_pretrained(folder)

            ckpt.save_final(work_dir, save, self.opts.lora)
            write_json(work_dir / ckpt.TRAIN_LOG, {"losses": result.losses,
                                                   "steps": result.steps})
            ckpt.write_done(work_dir, {
                "fingerprint": fp, "seed": seed, "steps": result.steps,
                "n_items": len(items), "options": self.opts.training_dict(),
                "weights": ckpt.ADAPTER if self.opts.lora else ckpt.FULL_MODEL,
                "final_loss": result.losses[-1] if result.losses else None,
            })
            ckpt.remove_checkpoint(work_dir)
        acc.wait_for_everyone()
        if self.opts.lora:
            trained = trained.merge_and_unload()
        self._model = self._ready(trained)
        self.fitted = True

    def load_trained(self, work_dir: Path) -> None:
        """Load the finished model in ``work_dir`` (adapter on the base, or the full model)."""
        work_dir = Path(work_dir)
        if ckpt.read_done(work_dir) is None:
            raise MedmatError(f"{work_dir}: no finished hf model here (hf_done.json missing)")
        dtype = self._dtype(training=False)
        if self.opts.lora:
            model = load_adapter(load_model(self.opts, dtype), str(work_dir / ckpt.ADAPTER))
        else:
            model = load_model(self.opts, dtype, path=str(work_dir / ckpt.FULL_MODEL))
        self._model = self._ready(model)
        self.fitted = True

    # ---- evaluation ---------------------------------------------------------------------------
    def score(self, items: Sequence[QAItem], image_root: Path, *,
              progress: ProgressFn | None = None) -> list[Prediction]:
        items = list(items)
        if not items:
            return []
        image_root = Path(image_root)
        encoder, model, acc = self.encoder, self.model, self.accelerator
        encoder.preflight(items, image_root, with_answer=False)
        autocast = self.autocast
        replies: dict[int, str] = {}
        with acc.split_between_processes(list(range(len(items)))) as mine:
            boxes = [i for i in mine if items[i].is_grounding]
            mine = [i for i in mine if not items[i].is_grounding]
            box_preds = score_boxes(model, encoder, [items[i] for i in boxes], image_root,
                                    self.opts.eval_batch_size, acc.device, autocast,
                                    self.opts.max_new_tokens, progress, texts=replies,
                                    workers=self.opts.num_workers)
            mine_items = [items[i] for i in mine]
            if not mine_items:
                preds = []
            elif self.opts.mode == "likelihood":
                preds = score_likelihood(model, encoder, mine_items, image_root,
                                         self.opts.eval_batch_size, acc.device, autocast,
                                         progress, workers=self.opts.num_workers)
            else:
                preds = score_generate(model, encoder, mine_items, image_root,
                                       self.opts.eval_batch_size, acc.device, autocast,
                                       self.opts.max_new_tokens, progress, texts=replies,
                                       workers=self.opts.num_workers)
            pairs = list(zip(mine, preds, strict=True)) + list(zip(boxes, box_preds, strict=True))
        if acc.num_processes > 1:
            from accelerate.utils import gather_object

            pairs = gather_object(pairs)
            replies_list = gather_object(list(replies.items()))
            replies = dict(replies_list)
        by_index = dict(pairs)  # gathered in process order; put back in item order
        self.last_replies = replies
        self.last_misses = sum(1 for p in by_index.values() if p.answer_box is not None
                               and p.box is None)
        return [by_index[i] for i in range(len(items))]
