"""Work-dir layout of the hf backend and its atomic checkpoints.

    work_dir/
      checkpoint/            latest partial checkpoint (replaced atomically)
        trainable.safetensors    trainable weights (LoRA adapters, or the LM for full FT)
        optimizer.pt             optimizer state (tensors + numbers; loaded weights_only=True)
        rng.pt                   RNG states (tensors; loaded weights_only=True)
        state.json               step, epoch, batch position, fingerprint, world size
      adapter/               finished LoRA run: adapter_model.safetensors + adapter_config.json
      model/                 finished full fine-tuning run: a standalone HF checkpoint
      hf_done.json           written last: the run is finished (fingerprint + summary)
      train_log.json         loss per optimizer step

Folders are written under a temporary name and renamed into place, so a killed run leaves the
previous checkpoint intact and never a half-written one that a later run would trust.
Nothing here unpickles arbitrary objects: weights are safetensors, states load with
``torch.load(weights_only=True)``, metadata is JSON.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from medmat.errors import MedmatError
from medmat.io import read_json, write_json

CHECKPOINT = "checkpoint"
ADAPTER = "adapter"
FULL_MODEL = "model"
DONE = "hf_done.json"
TRAIN_LOG = "train_log.json"


@contextmanager
def atomic_dir(dest: Path) -> Iterator[Path]:
    """Yield a temp folder next to ``dest``; on success swap it in place of ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        yield tmp
        old = None
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(dest, old)
        os.replace(tmp, dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().to("cpu").contiguous().clone()
            for n, p in model.named_parameters() if p.requires_grad}


def load_trainable(model: torch.nn.Module, path: Path) -> None:
    try:
        state = load_file(str(path))
    except SafetensorError as exc:  # truncated by a full disk, or not a checkpoint at all
        raise MedmatError(
            f"{path}: corrupt, truncated or foreign checkpoint ({exc}); delete the work dir's "
            "checkpoint/ folder to restart training"
        ) from None
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in state]
    unknown = [n for n in state if n not in params]
    if missing or unknown:
        raise MedmatError(
            f"{path}: checkpoint does not match the model ({len(missing)} missing, "
            f"{len(unknown)} unknown tensors, e.g. {(missing + unknown)[:2]}); it was written by a "
            "different configuration; delete the work dir's checkpoint/ folder to restart"
        )
    with torch.no_grad():
        for name, tensor in state.items():
            params[name].copy_(tensor.to(params[name].device, params[name].dtype))


def rng_state() -> dict[str, torch.Tensor]:
    state = {
        "torch": torch.get_rng_state(),
        "numpy": torch.tensor(np.random.get_state()[1].astype(np.int64)),
        "numpy_pos": torch.tensor([np.random.get_state()[2]]),
        "python": torch.tensor(list(random.getstate()[1]), dtype=torch.int64),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(state["torch"])
    keys = state["numpy"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, int(state["numpy_pos"][0]), 0, 0.0))
    py = tuple(int(x) for x in state["python"].tolist())
    random.setstate((3, py, None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def save_checkpoint(work_dir: Path, model: torch.nn.Module, optimizer: Any,
                    meta: dict[str, Any]) -> None:
    """Write the partial checkpoint (call on the main process only)."""
    with atomic_dir(work_dir / CHECKPOINT) as tmp:
        save_file(trainable_state(model), str(tmp / "trainable.safetensors"))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(rng_state(), tmp / "rng.pt")
        write_json(tmp / "state.json", meta)


def read_checkpoint_meta(work_dir: Path) -> dict[str, Any] | None:
    path = work_dir / CHECKPOINT / "state.json"
    return read_json(path) if path.is_file() else None


def restore_checkpoint(work_dir: Path, model: torch.nn.Module, optimizer: Any,
                       map_location: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Load weights and optimizer state; return the RNG state for the caller to apply.

    The caller applies the RNG state only once the data iterator exists, because creating a
    DataLoader iterator draws from torch's generator (that draw happened before the checkpoint
    in the interrupted run).
    """
    folder = work_dir / CHECKPOINT
    load_trainable(model, folder / "trainable.safetensors")
    try:
        optimizer.load_state_dict(
            torch.load(folder / "optimizer.pt", map_location=map_location, weights_only=True))
        return torch.load(folder / "rng.pt", map_location="cpu", weights_only=True)
    except (RuntimeError, ValueError, KeyError, OSError) as exc:
        raise MedmatError(
            f"{folder}: cannot restore the optimizer/RNG state ({exc}); delete the folder to "
            "restart training from scratch"
        ) from None


def save_accelerate_state(accelerator: Any, work_dir: Path, meta: dict[str, Any]) -> None:
    """DeepSpeed: let accelerate/DeepSpeed write the sharded state (call on every rank).

    DeepSpeed's optimizer state is partitioned across ranks, so only its own checkpoint format
    can hold it; the files are this run's own output, read back by ``load_state``.
    """
    tmp = work_dir / f".{CHECKPOINT}.ds.tmp"
    if accelerator.is_main_process and tmp.exists():
        shutil.rmtree(tmp)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp / "accelerate"))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        write_json(tmp / "state.json", meta)
        dest = work_dir / CHECKPOINT
        old = work_dir / f".{CHECKPOINT}.old"
        shutil.rmtree(old, ignore_errors=True)
        if dest.exists():
            os.replace(dest, old)
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)


def restore_accelerate_state(accelerator: Any, work_dir: Path) -> None:
    folder = work_dir / CHECKPOINT / "accelerate"
    if not folder.is_dir():
        raise MedmatError(
            f"{folder.parent}: not a DeepSpeed checkpoint (it was written without DeepSpeed); "
            "resume with the same accelerate config or delete the folder to start over"
        )
    accelerator.load_state(str(folder))


def save_final(work_dir: Path, save: Callable[[Path], None], lora: bool) -> Path:
    dest = work_dir / (ADAPTER if lora else FULL_MODEL)
    with atomic_dir(dest) as tmp:
        save(tmp)
    return dest


def read_done(work_dir: Path) -> dict[str, Any] | None:
    path = work_dir / DONE
    return read_json(path) if path.is_file() else None


def write_done(work_dir: Path, info: dict[str, Any]) -> None:
    write_json(work_dir / DONE, info)


def remove_checkpoint(work_dir: Path) -> None:
    shutil.rmtree(work_dir / CHECKPOINT, ignore_errors=True)
