"""Options of the ``hf`` backend (the ``backend_options`` mapping of an experiment config).

Validated up front so a typo in a YAML file fails before a multi-gigabyte model is loaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from medmat.errors import MedmatError

# The language model's linear layers in Qwen2/Qwen2.5/Llama/Mistral-style decoders. The vision
# towers of Qwen2-VL name theirs qkv/proj/fc1/fc2 and CLIP's use q/k/v/out_proj + fc1/fc2, so the
# LoRA target regex is additionally confined to the language model (see loading.lora_target_regex).
DEFAULT_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

MODES = ("likelihood", "generate")

# Options that change the trained weights; the rest (evaluation, speed, logging) may differ
# between the run that trained and the run that reuses the work dir.
TRAINING_KEYS = (
    "model", "revision", "lora", "lora_rank", "lora_alpha", "lora_dropout", "lora_targets",
    "train_vision", "lr", "weight_decay", "warmup_ratio", "epochs", "max_steps", "batch_size",
    "grad_accum", "max_length", "min_pixels", "max_pixels", "bf16", "max_grad_norm",
)


@dataclass
class HFOptions:
    """Every option of the hf backend with its default (see docs/hf-backend.md)."""

    model: str = ""
    revision: str | None = None
    mode: str = "likelihood"
    lora: bool = True
    lora_rank: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: list[str] | str = field(default_factory=lambda: list(DEFAULT_LORA_TARGETS))
    train_vision: bool = False
    lr: float | None = None
    weight_decay: float = 0.0
    warmup_ratio: float = 0.1
    epochs: int = 1
    max_steps: int | None = None
    batch_size: int = 4
    eval_batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 2048
    min_pixels: int | None = None
    max_pixels: int | None = 262144
    bf16: bool | str = "auto"
    gradient_checkpointing: bool | str = "auto"
    max_new_tokens: int = 16
    save_every: int = 100
    max_grad_norm: float = 1.0
    attn_implementation: str | None = None
    device: str = "auto"
    num_workers: int = 0
    trust_remote_code: bool = False

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> HFOptions:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise MedmatError(
                f"backend_options: unknown hf option(s) {unknown}; valid options are "
                f"{sorted(known)} (see docs/hf-backend.md)"
            )
        opts = cls(**kwargs)
        opts.validate()
        return opts

    def validate(self) -> None:
        def bad(name: str, why: str) -> MedmatError:
            return MedmatError(f"backend_options.{name}={getattr(self, name)!r}: {why}")

        if not isinstance(self.model, str) or not self.model.strip():
            raise MedmatError(
                "backend_options.model is required for backend 'hf': a local checkpoint folder "
                "or a hub id such as Qwen/Qwen2-VL-2B-Instruct"
            )
        if self.mode not in MODES:
            raise bad("mode", f"choose one of {MODES}")
        for name in ("lora_rank", "lora_alpha", "epochs", "batch_size", "eval_batch_size",
                     "grad_accum", "max_length", "max_new_tokens", "save_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(name, "must be a positive integer")
        for name in ("min_pixels", "max_pixels", "max_steps"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise bad(name, "must be a positive integer or null")
        if self.min_pixels and self.max_pixels and self.min_pixels > self.max_pixels:
            raise bad("min_pixels", f"exceeds max_pixels={self.max_pixels}")
        if self.lr is not None and not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise bad("lr", "must be a positive number or null (1e-4 for LoRA, 1e-5 for full)")
        if not 0 <= self.lora_dropout < 1:
            raise bad("lora_dropout", "must be in [0, 1)")
        if not 0 <= self.warmup_ratio < 1:
            raise bad("warmup_ratio", "must be in [0, 1)")
        if isinstance(self.lora_targets, str):
            if self.lora_targets != "all-linear":
                raise bad("lora_targets", "must be a list of module names or 'all-linear'")
        elif not self.lora_targets or not all(isinstance(t, str) and t for t in self.lora_targets):
            raise bad("lora_targets", "must be a non-empty list of module names or 'all-linear'")
        for name in ("bf16", "gradient_checkpointing"):
            if getattr(self, name) not in (True, False, "auto"):
                raise bad(name, "must be true, false or 'auto'")
        if self.device not in ("auto", "cpu"):
            raise bad("device", "must be 'auto' (GPU when present) or 'cpu'")
        if self.num_workers < 0:
            raise bad("num_workers", "must be >= 0")

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return float(self.lr)
        return 1e-4 if self.lora else 1e-5

    def training_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in TRAINING_KEYS}
        out["lr"] = self.learning_rate
        if not isinstance(out["lora_targets"], str):
            out["lora_targets"] = list(out["lora_targets"])
        return out


def fingerprint(payload: Any) -> str:
    """Stable SHA-256 of a JSON-able payload (what a work dir was trained on)."""
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()
