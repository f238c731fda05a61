"""Experiment configs are data: a YAML file validated into :class:`ExperimentConfig`.

```yaml
data:                      # either a synthetic lab ...
  lab: {seed: 0, "null": false, size: 64, n_train: 1000, n_test: 200,
        cells: [xray-brain-lesion, xray-lung-lesion, ct-brain-lesion]}
# data: {records: path/to/records.parquet}   # ... or any records table (medmat ingest)
targets: [xray-brain-lesion]          # subset ids or {modality, area, task}
arms: [related, unrelated, target_trained, untrained]   # or {name, subsets, target_items}
budget_per_subset: 1000               # training items per related subset
target_items: 0                       # items of the target's own training split in every CG arm
backend: builtin                      # or hf
backend_options: {epochs: 6}
seeds: [0]
qa_seed: 0
bootstrap: 2000
drop_leaky: false
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from medmat.errors import MedmatError

KEYS = {
    "name",
    "data",
    "targets",
    "arms",
    "budget_per_subset",
    "target_items",
    "backend",
    "backend_options",
    "seeds",
    "qa_seed",
    "bootstrap",
    "drop_leaky",
    "templates",
}
LAB_KEYS = {"seed", "null", "size", "n_train", "n_val", "n_test", "cells"}


@dataclass
class ExperimentConfig:
    targets: list[Any]
    lab: dict | None = None
    records: str | None = None
    name: str = "experiment"
    arms: list[Any] = field(
        default_factory=lambda: ["related", "unrelated", "target_trained", "untrained"]
    )
    budget_per_subset: int = 1000
    target_items: int = 0
    backend: str = "builtin"
    backend_options: dict = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [0])
    qa_seed: int = 0
    bootstrap: int = 2000
    drop_leaky: bool = False
    templates: str | None = None
    source: str = "<dict>"

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in sorted(KEYS - {"data"})}
        out["data"] = {"lab": self.lab} if self.lab is not None else {"records": self.records}
        return out


def load_config(config: str | Path | dict) -> ExperimentConfig:
    """Read (yaml.safe_load) and validate a config; every error names the file and the key."""
    source = "<dict>"
    if not isinstance(config, dict):
        source = str(config)
        path = Path(config)
        if not path.exists():
            raise MedmatError(f"{path}: experiment config not found")
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise MedmatError(f"{path}: not valid YAML ({exc})") from None
        if not isinstance(config, dict):
            raise MedmatError(f"{path}: the config must be a YAML mapping")
        records = (config.get("data") or {}).get("records")
        if records and not Path(records).is_absolute():  # relative to the config file
            config = {**config, "data": {"records": str(path.parent / records)}}
    unknown = set(config) - KEYS
    if unknown:
        raise MedmatError(f"{source}: unknown key(s) {sorted(unknown)}; allowed: {sorted(KEYS)}")
    data = config.get("data")
    if not isinstance(data, dict) or len(data) != 1 or not ({"lab", "records"} & set(data)):
        raise MedmatError(f"{source}: 'data' must hold exactly one of 'lab' or 'records'")
    lab = data.get("lab")
    if isinstance(lab, dict) and None in lab:  # `null: true` unquoted parses as a None key
        lab = {("null" if k is None else k): v for k, v in lab.items()}
    if lab is not None:
        if not isinstance(lab, dict) or set(lab) - LAB_KEYS or "cells" not in lab:
            raise MedmatError(f"{source}: data.lab needs 'cells' and only keys {sorted(LAB_KEYS)}")
    targets = config.get("targets")
    if not targets or not isinstance(targets, list):
        raise MedmatError(f"{source}: 'targets' must be a non-empty list of subset ids")
    seeds = config.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise MedmatError(f"{source}: 'seeds' must be a non-empty list of integers")
    kwargs = {k: v for k, v in config.items() if k != "data"}
    cfg = ExperimentConfig(lab=lab, records=data.get("records"), source=source, **kwargs)
    for key in ("budget_per_subset", "bootstrap"):
        if not isinstance(getattr(cfg, key), int) or getattr(cfg, key) < 1:
            raise MedmatError(f"{source}: '{key}' must be a positive integer")
    if not isinstance(cfg.backend_options, dict):
        raise MedmatError(f"{source}: 'backend_options' must be a mapping")
    return cfg
