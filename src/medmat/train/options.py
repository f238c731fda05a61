"""Declared options of every backend, validated before any model is built.

``backend_options`` in an experiment config is checked against the backend's options model:
unknown keys and wrong types (``epochs: "8"``) are errors naming the key. The validated options,
defaults filled in, are what an arm's fingerprint hashes, so writing a default explicitly does
not retrain anything.
"""

from __future__ import annotations

import dataclasses
import typing
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from medmat.errors import MedmatError


class BuiltinOptions(BaseModel):
    """Options of the ``builtin`` backend (see :class:`medmat.train.builtin.BuiltinBackend`)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    epochs: int = Field(10, ge=1)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    image_size: int = Field(32, ge=16, multiple_of=8)
    width: int = Field(16, ge=1)
    hidden: int = Field(128, ge=1)
    threads: int | None = Field(None, ge=1)


@cache
def _hf_model() -> type[BaseModel]:
    """A strict pydantic model with exactly the fields (types, defaults) of ``HFOptions``."""
    from medmat.train.hf.options import HFOptions

    hints = typing.get_type_hints(HFOptions)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(HFOptions):
        if f.default is not dataclasses.MISSING:
            default: Any = f.default
        else:
            default = Field(default_factory=f.default_factory)  # type: ignore[arg-type]
        fields[f.name] = (hints[f.name], default)
    return create_model(  # type: ignore[call-overload]
        "HFOptions", __config__=ConfigDict(extra="forbid", strict=True), **fields
    )


class _HFAdapter:
    """Validate with the strict model, then build ``HFOptions`` (its own checks run later)."""

    def validate_python(self, options: dict[str, Any]) -> Any:
        from medmat.train.hf.options import HFOptions

        model = _hf_model().model_validate(options)
        return HFOptions(**model.model_dump())


def backend_options_model(backend: str, source: str = "config") -> Any:
    """An object with ``validate_python(options)`` for ``backend``'s options."""
    if backend == "builtin":
        return TypeAdapter(BuiltinOptions)
    if backend == "hf":
        return _HFAdapter()
    raise MedmatError(f"{source}: key 'backend': unknown backend {backend!r}; choose 'builtin' or "
                      "'hf'")
