"""Load an image-text checkpoint and its processor; apply LoRA or choose what full FT trains.

Any ``AutoModelForImageTextToText`` checkpoint with a chat template works (Qwen2-VL, Qwen2.5-VL,
LLaVA, ...), from a local folder or a hub id. The processor normally comes from
``AutoProcessor``; for the Qwen-VL family that fails without torchvision (transformers 4.57 and
5.x load a video processor that needs it, transformers #48558), so the tokenizer and the PIL
image processor are then loaded separately and joined by :class:`ImageOnlyQwenVLProcessor`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModelForImageTextToText,
    AutoProcessor,
    AutoTokenizer,
    ProcessorMixin,
)
from transformers.models.qwen2_vl.processing_qwen2_vl import Qwen2VLProcessor

from medmat.errors import MedmatError
from medmat.train.hf.options import DEFAULT_LORA_TARGETS, HFOptions

# Model types whose processors share Qwen2-VL's image-token expansion (grid_thw / merge_size^2).
QWEN_VL_TYPES = ("qwen2_vl", "qwen2_5_vl")


class ImageOnlyQwenVLProcessor(Qwen2VLProcessor):
    """Qwen2-VL processor without the video processor (which needs torchvision).

    ``Qwen2VLProcessor(..., video_processor=None)`` fails in transformers 5.x because the video
    processor base class is a dummy without torchvision; a subclass whose ``__init__`` only
    takes (image_processor, tokenizer, chat_template) works and saves/reloads itself.
    """

    # transformers 4.x reads the sub-processors from these; 5.x from the __init__ signature
    attributes = ["image_processor", "tokenizer"]
    image_processor_class = "AutoImageProcessor"
    tokenizer_class = "AutoTokenizer"

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        self.image_token = getattr(tokenizer, "image_token", None) or "<|image_pad|>"
        self.video_token = getattr(tokenizer, "video_token", None) or "<|video_pad|>"
        self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
        ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)


def _source_kwargs(opts: HFOptions) -> tuple[str, dict[str, Any]]:
    """Where to load from: a local folder (never the network) or a hub id (HF_HUB_OFFLINE kept)."""
    path = Path(opts.model).expanduser()
    kwargs: dict[str, Any] = {"trust_remote_code": opts.trust_remote_code}
    if path.exists():
        if not path.is_dir():
            raise MedmatError(f"backend_options.model={opts.model!r}: not a checkpoint folder")
        return str(path), {**kwargs, "local_files_only": True}
    if opts.model.startswith((".", "/", "~")) or opts.model.count("/") > 1:
        raise MedmatError(
            f"backend_options.model={opts.model!r}: folder not found; give an existing "
            "checkpoint folder or a hub id like Qwen/Qwen2-VL-2B-Instruct"
        )
    if opts.revision:
        kwargs["revision"] = opts.revision
    return opts.model, kwargs


def _offline_hint(model: str, exc: Exception) -> MedmatError:
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    hint = (
        "HF_HUB_OFFLINE is set, so only the local cache is used; download it first with "
        f"`huggingface-cli download {model}` on a machine with network access"
        if offline else "check the hub id, network access, or pass a local checkpoint folder"
    )
    return MedmatError(f"backend_options.model={model!r}: cannot load ({exc}); {hint}")


def load_processor(opts: HFOptions) -> Any:
    """The checkpoint's processor, with the pixel budget applied; torchvision is not required."""
    source, kwargs = _source_kwargs(opts)
    try:
        config = AutoConfig.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise _offline_hint(opts.model, exc) from None
    processor: Any = None
    try:
        processor = AutoProcessor.from_pretrained(source, **kwargs)
    except (ImportError, OSError, ValueError, TypeError, AttributeError):
        processor = None  # typically: the video processor needs torchvision
    if not (isinstance(processor, ProcessorMixin) and hasattr(processor, "image_processor")):
        processor = _separate_processor(source, kwargs, config.model_type)
    if not getattr(processor, "chat_template", None):
        template = getattr(processor.tokenizer, "chat_template", None)
        if not template:
            raise MedmatError(
                f"{opts.model}: the checkpoint has no chat template; use an instruction-tuned "
                "checkpoint (e.g. Qwen/Qwen2-VL-2B-Instruct) or add chat_template.jinja"
            )
        processor.chat_template = template
    apply_pixel_budget(processor.image_processor, opts)
    tok = processor.tokenizer
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return processor


def _separate_processor(source: str, kwargs: dict[str, Any], model_type: str) -> Any:
    if model_type not in QWEN_VL_TYPES:
        raise MedmatError(
            f"{source}: AutoProcessor could not load a multimodal processor for model type "
            f"{model_type!r}; install its requirements (e.g. torchvision) or use a Qwen2-VL, "
            "Qwen2.5-VL or LLaVA checkpoint"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        image_processor = AutoImageProcessor.from_pretrained(source, **kwargs)
    except (OSError, ValueError, ImportError) as exc:
        raise MedmatError(f"{source}: cannot load tokenizer/image processor ({exc})") from None
    template = getattr(tokenizer, "chat_template", None) or _saved_chat_template(source, kwargs)
    return ImageOnlyQwenVLProcessor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=template
    )


def _saved_chat_template(source: str, kwargs: dict[str, Any]) -> str | None:
    """The processor's chat template file (``chat_template.jinja`` or the older ``.json``)."""
    from transformers.utils import cached_file

    lookup = {k: v for k, v in kwargs.items() if k in ("local_files_only", "revision")}
    for name in ("chat_template.jinja", "chat_template.json"):
        try:
            path = cached_file(source, name, _raise_exceptions_for_missing_entries=False,
                               **lookup)
        except OSError:
            path = None
        if path:
            text = Path(path).read_text(encoding="utf-8")
            return json.loads(text).get("chat_template") if name.endswith(".json") else text
    return None


def apply_pixel_budget(image_processor: Any, opts: HFOptions) -> None:
    """Set min/max pixels on dynamic-resolution image processors (Qwen-VL's smart_resize)."""
    size = getattr(image_processor, "size", None)
    dynamic = isinstance(size, dict) and {"shortest_edge", "longest_edge"} <= set(size)
    dynamic = dynamic or hasattr(size, "longest_edge") and getattr(size, "longest_edge", None)
    if not dynamic:
        return  # fixed-resolution towers (CLIP in LLaVA) resize to their own size
    new = dict(size) if isinstance(size, dict) else {
        "shortest_edge": size.shortest_edge, "longest_edge": size.longest_edge}
    if opts.min_pixels is not None:
        new["shortest_edge"] = opts.min_pixels
    if opts.max_pixels is not None:
        new["longest_edge"] = opts.max_pixels
    if new["shortest_edge"] > new["longest_edge"]:
        new["shortest_edge"] = new["longest_edge"]
    image_processor.size = new
    for attr, key in (("min_pixels", "shortest_edge"), ("max_pixels", "longest_edge")):
        if hasattr(image_processor, attr):
            setattr(image_processor, attr, new[key])


def load_model(opts: HFOptions, dtype: torch.dtype, path: str | None = None) -> Any:
    """Load the base checkpoint (or a fully fine-tuned one at ``path``)."""
    if path is not None:
        source, kwargs = path, {"local_files_only": True,
                                "trust_remote_code": opts.trust_remote_code}
    else:
        source, kwargs = _source_kwargs(opts)
    if opts.attn_implementation:
        kwargs["attn_implementation"] = opts.attn_implementation
    try:
        model = AutoModelForImageTextToText.from_pretrained(source, dtype=dtype, **kwargs)
    except ValueError as exc:
        if "Unrecognized configuration" in str(exc) or "AutoModelForImageTextToText" in str(exc):
            raise MedmatError(
                f"{opts.model}: not an image-text-to-text checkpoint ({exc}); the hf backend "
                "needs a model that AutoModelForImageTextToText can load"
            ) from None
        raise _offline_hint(opts.model, exc) from None
    except OSError as exc:
        raise _offline_hint(opts.model, exc) from None
    return model


def set_use_cache(model: Any, value: bool) -> None:
    """KV cache off for training (checkpointing refuses it), on for generation."""
    for cfg in (getattr(model, "config", None),
                getattr(getattr(model, "config", None), "text_config", None)):
        if cfg is not None and hasattr(cfg, "use_cache"):
            cfg.use_cache = value


def set_checkpointing(model: Any, on: bool) -> None:
    """Activation (gradient) checkpointing, non-reentrant so frozen inputs are fine with LoRA."""
    # transformers 5 renamed gradient_* to activation_*; 4.57 only has the old names
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):
        if on:
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.activation_checkpointing_disable()
    elif on:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_disable()


def language_model_prefix(model: torch.nn.Module) -> str:
    """Qualified module name of the text decoder ("model.language_model" in transformers 5)."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    names = {id(m): n for n, m in model.named_modules()}
    if decoder is not None and decoder is not model and id(decoder) in names:
        return names[id(decoder)]
    for name, _ in model.named_modules():
        if name.endswith("language_model"):
            return name
    raise MedmatError(
        f"{type(model).__name__}: cannot find the language model inside the checkpoint; "
        "set lora_targets: all-linear to adapt every linear layer"
    )


def lora_target_regex(model: torch.nn.Module, targets: list[str] | str) -> str:
    """A peft ``target_modules`` regex matching ``targets`` inside the language model only."""
    if isinstance(targets, str):
        return targets  # 'all-linear' (peft's own: every linear but the output head)
    prefix = language_model_prefix(model)
    names = "|".join(re.escape(t) for t in targets)
    return rf"{re.escape(prefix)}\.(?:.*\.)?(?:{names})"


@contextlib.contextmanager
def quiet_peft() -> Iterator[None]:
    """peft reads transformers' deprecated ``is_gradient_checkpointing``: hide that warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        yield


def load_adapter(base: Any, adapter_dir: str) -> Any:
    """Put a saved LoRA adapter on ``base`` and merge it (faster inference, plain model)."""
    from peft import PeftModel

    with quiet_peft():
        return PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()


def apply_lora(model: Any, opts: HFOptions) -> Any:
    """Wrap ``model`` with LoRA adapters; everything else (vision tower included) stays frozen."""
    from peft import LoraConfig, get_peft_model

    targets = opts.lora_targets
    config = LoraConfig(
        r=opts.lora_rank, lora_alpha=opts.lora_alpha, lora_dropout=opts.lora_dropout,
        target_modules=lora_target_regex(model, targets), bias="none",
    )
    try:
        with quiet_peft():
            peft_model = get_peft_model(model, config)
    except ValueError as exc:
        default = list(DEFAULT_LORA_TARGETS)
        raise MedmatError(
            f"backend_options.lora_targets={targets!r}: no matching layer in the language model "
            f"({exc}); the default is {default}, or use 'all-linear'"
        ) from None
    return peft_model


def freeze_for_full_finetuning(model: torch.nn.Module, train_vision: bool) -> None:
    """Full FT trains the language model and output head; the vision side only on request."""
    if train_vision:
        for p in model.parameters():
            p.requires_grad_(True)
        return
    prefix = language_model_prefix(model) + "."
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith(prefix) or name.startswith("lm_head."))
    if not any(p.requires_grad for p in model.parameters()):
        raise MedmatError(f"{type(model).__name__}: no trainable language-model parameters found")
