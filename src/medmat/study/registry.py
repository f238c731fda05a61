"""The design registry: ``designs.yaml`` read into validated, frozen models.

Designs are data (description, the study's rules they follow, arms, numbers); the code here only
loads, validates and looks them up, so a new design is a YAML entry, not a code change.
"""

from __future__ import annotations

import difflib
import os
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from medmat.errors import MedmatError

DESIGNS_FILE = "designs.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArmSpec(_Strict):
    name: StrictStr = Field(min_length=1)
    trains: StrictStr = Field(min_length=1)


class Design(_Strict):
    """One study design. ``catalog``: `medmat study NAME --catalog` can plan it."""

    name: StrictStr = ""
    status: Literal["available", "planned"]
    catalog: StrictBool = False
    description: StrictStr = Field(min_length=1)
    paper: StrictStr = Field(min_length=1)
    rules: list[StrictStr] = Field(min_length=1)
    params: dict[StrictStr, StrictInt] = {}
    arms: list[ArmSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_arms(self) -> Design:
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"arm names must be unique, got {names}")
        return self


class DesignRegistry(_Strict):
    version: Literal[1]
    rules: dict[StrictStr, StrictStr] = Field(min_length=1)
    task_kinds: dict[StrictStr, list[StrictStr]] = {}
    designs: dict[StrictStr, Design] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> DesignRegistry:
        for name, design in self.designs.items():
            unknown = [r for r in design.rules if r not in self.rules]
            if unknown:
                raise ValueError(f"design {name!r} cites unknown rule(s) {unknown}")
            if design.catalog and design.status != "available":
                raise ValueError(f"design {name!r}: catalog planning needs status 'available'")
        seen: dict[str, str] = {}
        for kind, tasks in self.task_kinds.items():
            for task in tasks:
                if task in seen:
                    raise ValueError(f"task {task!r} is in task kinds {seen[task]!r} and {kind!r}")
                seen[task] = kind
        return self

    def names(self) -> list[str]:
        return list(self.designs)

    def design(self, name: str) -> Design:
        """The design ``name``, with its name filled in; unknown names suggest the closest."""
        if name not in self.designs:
            close = difflib.get_close_matches(name, self.names(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise MedmatError(
                f"unknown study design {name!r}{hint}; designs: {', '.join(self.names())}"
            )
        return self.designs[name].model_copy(update={"name": name})

    def task_kind(self, task: str) -> str:
        """The coarse kind a task folds into (the task itself when it folds into none)."""
        for kind, tasks in self.task_kinds.items():
            if task in tasks:
                return kind
        return task


_DEFAULT: DesignRegistry | None = None


def load_designs(path: str | os.PathLike[str] | None = None) -> DesignRegistry:
    """The package's design registry (cached), or the one in the YAML file ``path``."""
    global _DEFAULT
    if path is None and _DEFAULT is not None:
        return _DEFAULT
    if path is None:
        source = f"medmat.study/{DESIGNS_FILE}"
        text = (resources.files("medmat.study") / DESIGNS_FILE).read_text(encoding="utf-8")
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise MedmatError(f"{source}: design registry not found") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MedmatError(f"{source}: not valid YAML ({exc})") from None
    try:
        registry = DesignRegistry.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "<top level>"
        raise MedmatError(f"{source}: key '{key}': {err['msg']}") from None
    if path is None:
        _DEFAULT = registry
    return registry
