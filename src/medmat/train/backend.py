"""The backend registry: name -> implementation, imported only when a backend is made.

``builtin`` (a small PyTorch model that trains on CPU in seconds) and ``hf`` (Hugging Face
multimodal LLMs with LoRA) implement :class:`~medmat.train.interface.Backend`. Entries are
``module:Class`` strings so that importing this module (the experiment config does) pulls in
neither torch nor transformers, and so that backends never import this module back.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import Any

from medmat.errors import MedmatError
from medmat.train.interface import Backend, ProgressFn

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendEntry",
    "ProgressFn",
    "backend_class",
    "backend_code_digest",
    "make_backend",
]


@dataclass(frozen=True)
class BackendEntry:
    target: str  # "module:Class"
    description: str
    extra: str | None = None  # the pip extra whose packages the module imports
    # source files (globs under the medmat package) whose code decides what a model learns and
    # answers: their digest joins every arm's fingerprint (backend_code_digest)
    code: tuple[str, ...] = ()


BACKENDS: dict[str, BackendEntry] = {
    "builtin": BackendEntry(
        "medmat.train.builtin:BuiltinBackend",
        "small CNN + bag-of-words scorer in PyTorch; trains on CPU in seconds",
        code=("train/builtin*.py", "train/images.py"),
    ),
    "hf": BackendEntry(
        "medmat.train.hf:HFBackend",
        "Hugging Face multimodal LLM (Qwen2-VL, LLaVA...) fine-tuned with LoRA",
        extra="hf",
        code=("train/hf/*.py", "train/images.py"),
    ),
}


def _choices() -> str:
    return "; ".join(f"{name} ({entry.description})" for name, entry in BACKENDS.items())


def backend_class(name: str) -> type:
    """The class registered as ``name``; MedmatError for an unknown name or a missing extra."""
    entry = BACKENDS.get(name)
    if entry is None:
        raise MedmatError(f"unknown backend {name!r}; choose one of: {_choices()}")
    module_name, _, attr = entry.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        # Only a missing third-party package earns the install hint; a broken medmat module
        # must surface as the ImportError it is.
        missing = (exc.name or "").split(".")[0]
        if entry.extra is None or missing in ("", "medmat"):
            raise
        raise MedmatError(
            f"backend {name!r} needs the optional extra: pip install 'medmat[{entry.extra}]' "
            f"(missing {exc.name})"
        ) from None
    return getattr(module, attr)


@cache
def backend_code_digest(name: str) -> str:
    """Digest of the backend's source files (:attr:`BackendEntry.code`), read without importing
    them. Arms and shared models fingerprint it, so results cached by an older version of the
    model code (another layout, loss or initialisation) are recomputed, never reused."""
    entry = BACKENDS.get(name)
    if entry is None:
        raise MedmatError(f"unknown backend {name!r}; choose one of: {_choices()}")
    from medmat.manifest import source_digest

    return source_digest(*entry.code)


def make_backend(name: str, options: dict[str, Any] | None = None) -> Backend:
    """Instantiate a backend by name with its options (from the experiment config)."""
    return backend_class(name)(**dict(options or {}))
