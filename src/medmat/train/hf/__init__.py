"""Hugging Face multimodal-LLM backend (``backend: hf``; needs ``pip install 'medmat[hf]'``).

Importing this package imports torch, transformers and peft; a missing extra raises
ImportError, which :func:`medmat.train.backend.make_backend` turns into an install hint.
"""

from medmat.train.hf.backend import HFBackend
from medmat.train.hf.options import HFOptions

__all__ = ["HFBackend", "HFOptions"]
