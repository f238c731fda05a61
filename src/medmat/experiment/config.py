"""Experiment configs are data: YAML validated by declared models into :class:`ExperimentConfig`.

```yaml
data:                      # either a synthetic lab ...
  lab: {seed: 0, "null": false, size: 64, n_train: 1000, n_test: 200,
        cells: [xray-brain-lesion, xray-lung-lesion, ct-brain-lesion]}
# data: {records: path/to/records.parquet}   # ... or any records table (medmat ingest)
targets: [xray-brain-lesion]          # subset ids or {modality, area, task}
arms: [related, unrelated, target_trained, untrained]   # or {name, subsets, target_items}
budget_per_subset: 1000               # training items per related subset
target_items: 0                       # items of the target's own training split in every CG arm
general_items: 0                      # general-domain (Photo) items mixed into every trained arm
backend: builtin                      # or hf
backend_options: {epochs: 6}
seeds: [0]
qa_seed: 0
bootstrap: 2000
drop_leaky: false
```

Types are strict (``size: "64"`` or ``drop_leaky: "no"`` is an error, not a guess), unknown keys
are errors, and every message names the file and the key.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from medmat.errors import MedmatError
from medmat.splits.planner import BUILTIN_ARMS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class LabSpec(_Strict):
    """The synthetic lab to generate (``data.lab``)."""

    seed: StrictInt = 0
    null: StrictBool = False
    size: StrictInt = Field(64, ge=16, le=1024)
    n_train: StrictInt = Field(1000, ge=0)
    n_val: StrictInt = Field(0, ge=0)
    n_test: StrictInt = Field(200, ge=0)
    cells: list[StrictStr] = Field(min_length=1)


class DataSpec(_Strict):
    lab: LabSpec | None = None
    records: StrictStr | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> DataSpec:
        if (self.lab is None) == (self.records is None):
            raise ValueError("'data' must hold exactly one of 'lab' or 'records'")
        return self


class ExplicitArm(_Strict):
    name: StrictStr = Field(min_length=1)
    subsets: dict[StrictStr, StrictInt] = {}
    target_items: StrictInt = Field(0, ge=0)


class TargetSpec(_Strict):
    modality: StrictStr
    area: StrictStr
    task: StrictStr


class ExperimentConfig(_Strict):
    """A validated experiment config (see the module docstring for the YAML)."""

    name: StrictStr = "experiment"
    data: DataSpec
    targets: list[StrictStr | TargetSpec] = Field(min_length=1)
    arms: list[StrictStr | ExplicitArm] = Field(
        default_factory=lambda: ["related", "unrelated", "target_trained", "untrained"],
        min_length=1,
    )
    budget_per_subset: StrictInt = Field(1000, ge=1)
    target_items: StrictInt = Field(0, ge=0)
    general_items: StrictInt = Field(0, ge=0)
    backend: StrictStr = "builtin"
    backend_options: dict[StrictStr, Any] = {}
    seeds: list[StrictInt] = Field(default_factory=lambda: [0], min_length=1)
    qa_seed: StrictInt = 0
    bootstrap: StrictInt = Field(2000, ge=1)
    drop_leaky: StrictBool = False
    templates: StrictStr | None = None

    @field_validator("arms")
    @classmethod
    def _known_arms(cls, arms: list) -> list:
        for arm in arms:
            if isinstance(arm, str) and arm not in BUILTIN_ARMS:
                raise ValueError(
                    f"unknown arm {arm!r}; use one of {list(BUILTIN_ARMS)} or "
                    "{name, subsets: {subset: budget}, target_items}"
                )
        return arms

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be unique, got {seeds}")
        return seeds

    # Convenience views used by the runner.
    @property
    def lab(self) -> LabSpec | None:
        return self.data.lab

    @property
    def records(self) -> str | None:
        return self.data.records

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=False)


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if not (isinstance(p, str) and p in ("str", "TargetSpec",
                                                                          "ExplicitArm"))]
    return ".".join(parts) or "<top level>"


def _validation_message(source: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    key = _where(tuple(err["loc"]))
    if err["type"] == "extra_forbidden":
        problem = "unknown key (check its spelling against docs/experiments.md)"
    elif err["type"] == "missing":
        problem = "required key is missing"
    else:
        got = err.get("input")
        shown = repr(got) if not isinstance(got, dict | list) or len(repr(got)) < 60 else ""
        problem = err["msg"] + (f" (got {shown})" if shown else "")
    more = f"; {exc.error_count() - 1} more problem(s)" if exc.error_count() > 1 else ""
    return f"{source}: key '{key}': {problem}{more}"


def validate_backend_options(backend: str, options: dict[str, Any], source: str) -> dict:
    """Options of ``backend`` with defaults filled in (what the arm fingerprints hash)."""
    from medmat.train.options import backend_options_model

    model = backend_options_model(backend, source)
    try:
        validated = model.validate_python(options)
    except ValidationError as exc:
        raise MedmatError(
            _validation_message(f"{source}: backend_options", exc).replace(": key '", " key '", 1)
        ) from None
    if dataclasses.is_dataclass(validated):
        check = getattr(validated, "validate", None)
        if callable(check):
            check()
        return dataclasses.asdict(validated)
    return validated.model_dump(mode="json")


def load_config(config: str | Path | dict) -> ExperimentConfig:
    """Read (yaml.safe_load) and validate a config; every error names the file and the key."""
    source = "<dict>"
    if not isinstance(config, dict):
        source = str(config)
        path = Path(config)
        if not path.is_file():
            raise MedmatError(f"{path}: experiment config not found")
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise MedmatError(f"{path}: not UTF-8 text; save the config as UTF-8") from None
        except RecursionError:
            raise MedmatError(f"{path}: nested too deeply to be an experiment config") from None
        except yaml.YAMLError as exc:
            raise MedmatError(f"{path}: not valid YAML ({exc})") from None
        if not isinstance(config, dict):
            raise MedmatError(f"{path}: the config must be a YAML mapping")
        config = _relative_to(config, path.parent)
    config = _unquoted_null(config)
    try:
        cfg = ExperimentConfig.model_validate(config)
    except ValidationError as exc:
        raise MedmatError(_validation_message(source, exc)) from None
    except RecursionError:
        raise MedmatError(f"{source}: nested too deeply to be an experiment config") from None
    options = validate_backend_options(cfg.backend, cfg.backend_options, source)
    return cfg.model_copy(update={"backend_options": options})


def _unquoted_null(config: dict) -> dict:
    """``null: true`` unquoted parses as a None key; read it as the lab's ``null`` key."""
    data = config.get("data")
    lab = data.get("lab") if isinstance(data, dict) else None
    if isinstance(lab, dict) and None in lab:
        lab = {("null" if k is None else k): v for k, v in lab.items()}
        config = {**config, "data": {**data, "lab": lab}}
    return config


def _relative_to(config: dict, folder: Path) -> dict:
    """Paths in a config file (records, templates) are relative to the config file."""
    config = dict(config)
    data = config.get("data")
    if isinstance(data, dict) and isinstance(data.get("records"), str):
        rec = data["records"]
        if not Path(rec).is_absolute():
            config["data"] = {**data, "records": str(folder / rec)}
    tpl = config.get("templates")
    if isinstance(tpl, str) and not Path(tpl).is_absolute():
        config["templates"] = str(folder / tpl)
    return config
