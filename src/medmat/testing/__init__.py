"""Helpers for medmat's own tests and benchmarks; not used by any medmat command.

- :mod:`medmat.testing.tiny_models`: tiny random Qwen2-VL / Qwen2.5-VL / LLaVA checkpoints and
  synthetic items for the ``hf`` backend (needs ``medmat[hf]``).
- :mod:`medmat.testing.reference_items`: a plain per-record implementation of the VQA item
  builder, the naive baseline the vectorised :mod:`medmat.qa.build` must match byte for byte.

They ship in the package so benchmarks and ``python -m medmat.testing.tiny_models`` work from an
installed medmat; nothing here is imported unless asked for.
"""
