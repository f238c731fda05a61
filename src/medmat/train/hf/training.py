"""The training loop: accelerate for devices and processes, our own resumable checkpoints.

One loop serves a laptop CPU, one GPU and ``accelerate launch`` on many GPUs or nodes
(DDP, or DeepSpeed ZeRO through an accelerate config): ``accelerate.Accelerator`` shards the
batches and wraps the model; there is no distribution code here. The data order is a seeded
permutation per epoch and the learning rate a pure function of the step, so a resumed run
continues exactly where the interrupted one stopped (same weights on CPU).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from medmat.errors import MedmatError
from medmat.records import QAItem
from medmat.train.hf import checkpoint as ckpt
from medmat.train.hf.encoding import Encoder
from medmat.train.hf.options import HFOptions
from medmat.train.interface import ProgressFn


@dataclass
class TrainResult:
    steps: int
    resumed_from: int
    losses: list[float] = field(default_factory=list)
    tokens: int = 0
    seconds: float = 0.0
    # (seconds since the loop started, tokens so far) after each optimizer step of this session,
    # so benchmarks can leave out warm-up steps
    marks: list[tuple[float, int]] = field(default_factory=list)


def lr_factor(step: int, total: int, warmup_ratio: float) -> float:
    """Linear warmup then cosine decay to zero; ``step`` is the 0-based update index."""
    warmup = math.ceil(total * warmup_ratio)
    if step < warmup:
        return (step + 1) / warmup
    span = max(total - warmup, 1)
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / span))


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    return np.random.default_rng([seed, epoch]).permutation(n).tolist()


def train(
    accelerator: Any,
    model: torch.nn.Module,
    encoder: Encoder,
    items: Sequence[QAItem],
    image_root: Path,
    work_dir: Path,
    opts: HFOptions,
    *,
    seed: int,
    fingerprint: str,
    progress: ProgressFn | None = None,
    autocast: Callable[[], Any] = contextlib.nullcontext,
) -> tuple[TrainResult, torch.nn.Module]:
    """Train ``model`` in place; resume from ``work_dir/checkpoint`` when it holds one.

    Returns the result and the model as ``accelerator.prepare`` wrapped it (DDP / DeepSpeed
    engine), which ``accelerator.get_state_dict`` needs. ``accelerator`` must have been made
    with ``gradient_accumulation_steps=opts.grad_accum``: the loop is accelerate's standard
    ``accumulate`` idiom, which is what makes the same code right for one process, DDP and
    DeepSpeed (whose engine steps inside ``backward``).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise MedmatError("no trainable parameters: check lora_targets / train_vision")
    deepspeed = str(accelerator.distributed_type).endswith("DEEPSPEED")

    def collate(indices: list[int]) -> dict[str, torch.Tensor]:
        feats = [encoder.encode(items[i], encoder.load_image(items[i], image_root),
                                encoder.target(items[i])) for i in indices]
        return encoder.collate(feats)

    def raw_loader(epoch: int) -> DataLoader:
        order = epoch_order(len(items), seed, epoch)
        return DataLoader(order, batch_size=opts.batch_size, shuffle=False, collate_fn=collate,
                          num_workers=opts.num_workers)

    optimizer = torch.optim.AdamW(params, lr=opts.learning_rate, weight_decay=opts.weight_decay)
    # prepared together: DeepSpeed reads the micro-batch size from the data loader
    model, optimizer, first_loader = accelerator.prepare(model, optimizer, raw_loader(0))
    model.train()
    batches_per_epoch = len(first_loader)
    steps_per_epoch = math.ceil(batches_per_epoch / opts.grad_accum)
    total = steps_per_epoch * opts.epochs
    if opts.max_steps is not None:
        total = min(total, opts.max_steps)

    step, start_epoch, start_batch = 0, 0, 0
    pending_rng = None
    meta = ckpt.read_checkpoint_meta(work_dir)
    if meta is not None:
        if meta.get("fingerprint") != fingerprint:
            raise MedmatError(
                f"{work_dir / ckpt.CHECKPOINT}: partial checkpoint from different options or "
                "items; resume with the same config, or delete the folder to start over"
            )
        if meta.get("world_size") != accelerator.num_processes:
            raise MedmatError(
                f"{work_dir / ckpt.CHECKPOINT}: written with {meta.get('world_size')} "
                f"process(es), now {accelerator.num_processes}; resume with the same number of "
                "GPUs (the data order depends on it) or delete the folder to start over"
            )
        if deepspeed:
            ckpt.restore_accelerate_state(accelerator, work_dir)
        else:
            pending_rng = ckpt.restore_checkpoint(work_dir, accelerator.unwrap_model(model),
                                                  optimizer, map_location=accelerator.device)
        step, start_epoch, start_batch = meta["step"], meta["epoch"], meta["batch"]
    result = TrainResult(steps=step, resumed_from=step)
    losses: list[float] = list(meta.get("losses", [])) if meta else []

    def save(epoch: int, batch: int) -> None:
        info = {"step": step, "epoch": epoch, "batch": batch, "total": total,
                "fingerprint": fingerprint, "world_size": accelerator.num_processes,
                "losses": losses}
        accelerator.wait_for_everyone()
        if deepspeed:  # sharded optimizer state: every rank writes its part
            ckpt.save_accelerate_state(accelerator, work_dir, info)
        elif accelerator.is_main_process:
            ckpt.save_checkpoint(work_dir, accelerator.unwrap_model(model), optimizer, info)
        accelerator.wait_for_everyone()

    t0 = time.perf_counter()
    tokens = 0
    base_lr = opts.learning_rate
    for epoch in range(start_epoch, opts.epochs):
        if step >= total:
            break
        dl = first_loader if epoch == 0 else accelerator.prepare(raw_loader(epoch))
        first = start_batch if epoch == start_epoch else 0
        if first:
            dl = accelerator.skip_first_batches(dl, first)
        running = 0.0
        # Starting an epoch's iterator draws from torch's generator. A checkpoint taken at an
        # epoch boundary predates that draw, a mid-epoch one follows it: restore accordingly.
        if pending_rng is not None and not first:
            ckpt.set_rng_state(pending_rng)
            pending_rng = None
        batches = iter(dl)
        head = next(batches, None)
        if pending_rng is not None:
            ckpt.set_rng_state(pending_rng)
            pending_rng = None
        stream = itertools.chain([head], batches) if head is not None else iter(())
        for batch in stream:
            with accelerator.accumulate(model):
                if accelerator.sync_gradients:
                    # set before backward: DeepSpeed's engine steps inside backward
                    for group in optimizer.param_groups:
                        group["lr"] = base_lr * lr_factor(step, total, opts.warmup_ratio)
                with autocast():
                    loss = model(**batch).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients and opts.max_grad_norm and not deepspeed:
                    accelerator.clip_grad_norm_(params, opts.max_grad_norm)
                optimizer.step()  # a no-op until the accumulation group is complete
                optimizer.zero_grad(set_to_none=True)
            running += float(loss.detach()) / opts.grad_accum
            tokens += int(batch["attention_mask"].sum())
            first += 1
            if not accelerator.sync_gradients:
                continue
            step += 1
            result.marks.append((time.perf_counter() - t0, tokens))
            losses.append(round(running, 6))
            running = 0.0
            if step < total and step % opts.save_every == 0 and first < batches_per_epoch:
                save(epoch, first)
            if progress is not None:
                progress(step, total)
            if step >= total:
                break
        else:
            if step < total:
                save(epoch + 1, 0)
    result.steps = step
    result.losses = losses
    result.tokens = tokens
    result.seconds = time.perf_counter() - t0
    model.eval()
    return result, model
