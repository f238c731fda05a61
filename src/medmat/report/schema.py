"""Check the runner's metrics dict and turn it into small typed records for the renderers.

Everything is validated *before* anything is drawn or written, so a malformed ``metrics.json``
produces one clear :class:`MedmatError` and no partial report. Only what the report needs is
required; extra keys (new arms, new statistics) are carried along or ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from medmat.errors import MedmatError

# The four arms of every CG comparison, in the order tables and plots show them; any other arm
# (ablations such as "only_modality") follows, sorted by name so that an in-memory dict and the
# same dict read back from sorted-key JSON give the same report.
CANONICAL_ARMS = ("related", "unrelated", "target_trained", "untrained")

_FIX = "the experiment runner writes this key; rerun `medmat experiment` or repair metrics.json"


@dataclass(frozen=True)
class Cell:
    """One MAT subset of the lattice."""

    modality: str
    area: str
    task: str
    subset: str


@dataclass(frozen=True)
class Arm:
    """One training arm evaluated on one target's test items."""

    name: str
    accuracy: float | None
    ci95: tuple[float, float] | None
    n: int
    n_correct: int | None = None
    no_answer: int = 0
    chance: float | None = None
    train_subsets: tuple[str, ...] = ()
    n_train: int = 0
    letter_bias: Any = None
    per_seed: tuple[float, ...] = ()
    mean: float | None = None
    sd: float | None = None


@dataclass(frozen=True)
class Contrast:
    """A difference of accuracies between two arms (e.g. related minus unrelated)."""

    name: str
    diff: float | None
    ci95: tuple[float, float] | None
    p_value: float | None = None
    n_boot: int | None = None  # bootstrap replicates: a p-value of 0 means "below 2/n_boot"


@dataclass(frozen=True)
class Target:
    cell: Cell
    arms: tuple[Arm, ...]
    gain: Contrast | None
    diffs: tuple[Contrast, ...] = ()

    def arm(self, name: str) -> Arm | None:
        return next((a for a in self.arms if a.name == name), None)

    @property
    def chance(self) -> float | None:
        """Chance accuracy of the target (every arm answers the same items, so any will do)."""
        for name in ("untrained", *[a.name for a in self.arms]):
            arm = self.arm(name)
            if arm is not None and arm.chance is not None:
                return arm.chance
        return None


@dataclass(frozen=True)
class Report:
    targets: tuple[Target, ...]
    lattice: tuple[Cell, ...]
    seeds: tuple[int, ...]
    wall_seconds: float | None
    backend: str | None
    lab: Mapping[str, Any] | None
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def arm_names(self) -> tuple[str, ...]:
        """Every arm that appears in any target, canonical ones first."""
        seen = {a.name for t in self.targets for a in t.arms}
        return sort_arms(seen)

    @property
    def is_null(self) -> bool:
        return bool(self.lab) and bool(self.lab.get("null"))


def sort_arms(names: Sequence[str] | set[str]) -> tuple[str, ...]:
    canon = [n for n in CANONICAL_ARMS if n in names]
    return tuple(canon + sorted(n for n in names if n not in CANONICAL_ARMS))


def _where(path: str) -> str:
    return f"metrics{path}" if path else "metrics"


def _fail(path: str, problem: str) -> MedmatError:
    return MedmatError(f"{_where(path)}: {problem}; {_FIX}")


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path, f"expected an object, got {type(value).__name__}")
    return value


def _require(obj: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in obj:
        raise _fail(path, f"missing key {key!r}")
    return obj[key]


def _number(value: Any, path: str, *, optional: bool = True) -> float | None:
    """A finite float, or None for null/NaN (an arm that scored no items has no accuracy)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(path, f"expected a number, got {value!r}")
    value = float(value)
    return value if math.isfinite(value) else None


def _count(value: Any, path: str, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise _fail(path, f"expected a whole number, got {value!r}")
    return int(value)


def _interval(value: Any, path: str) -> tuple[float, float] | None:
    if value is None:
        return None
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise _fail(path, f"expected [low, high], got {value!r}")
    lo, hi = (_number(v, f"{path}[{i}]") for i, v in enumerate(value))
    if lo is None or hi is None:
        return None
    if lo > hi:
        raise _fail(path, f"interval low {lo} is above high {hi}")
    return lo, hi


def _cell(value: Any, path: str) -> Cell:
    obj = _mapping(value, path)
    parts = [_require(obj, k, path) for k in ("modality", "area", "task")]
    for key, part in zip(("modality", "area", "task"), parts, strict=True):
        if not isinstance(part, str) or not part:
            raise _fail(f"{path}[{key!r}]", f"expected a non-empty name, got {part!r}")
    subset = obj.get("subset") or "-".join(parts)
    return Cell(parts[0], parts[1], parts[2], str(subset))


def _arm(name: str, value: Any, path: str) -> Arm:
    obj = _mapping(value, path)
    subsets = obj.get("train_subsets") or ()
    if isinstance(subsets, str) or not isinstance(subsets, Sequence):
        raise _fail(f"{path}['train_subsets']", f"expected a list of subset ids, got {subsets!r}")
    per_seed = obj.get("per_seed") or ()
    if isinstance(per_seed, str) or not isinstance(per_seed, Sequence):
        raise _fail(f"{path}['per_seed']", f"expected a list of accuracies, got {per_seed!r}")
    return Arm(
        name=name,
        accuracy=_number(_require(obj, "accuracy", path), f"{path}['accuracy']"),
        ci95=_interval(obj.get("ci95"), f"{path}['ci95']"),
        n=_count(_require(obj, "n", path), f"{path}['n']"),
        n_correct=(
            None if obj.get("n_correct") is None
            else _count(obj["n_correct"], f"{path}['n_correct']")
        ),  # fmt: skip
        no_answer=_count(obj.get("no_answer"), f"{path}['no_answer']"),
        chance=_number(obj.get("chance"), f"{path}['chance']"),
        train_subsets=tuple(str(s) for s in subsets),
        n_train=_count(obj.get("n_train"), f"{path}['n_train']"),
        letter_bias=obj.get("letter_bias"),
        per_seed=tuple(
            v for i, x in enumerate(per_seed)
            if (v := _number(x, f"{path}['per_seed'][{i}]")) is not None
        ),  # fmt: skip
        mean=_number(obj.get("mean"), f"{path}['mean']"),
        sd=_number(obj.get("sd"), f"{path}['sd']"),
    )


def _contrast(name: str, value: Any, path: str, diff_keys: tuple[str, ...]) -> Contrast:
    obj = _mapping(value, path)
    key = next((k for k in diff_keys if k in obj), None)
    if key is None:
        raise _fail(path, f"missing key {diff_keys[0]!r}")
    return Contrast(
        name=name,
        diff=_number(obj[key], f"{path}[{key!r}]"),
        ci95=_interval(obj.get("ci95"), f"{path}['ci95']"),
        p_value=_number(obj.get("p_value"), f"{path}['p_value']"),
        n_boot=None if obj.get("n_boot") is None else _count(obj["n_boot"], f"{path}['n_boot']"),
    )


def _target(value: Any, path: str) -> Target:
    obj = _mapping(value, path)
    cell = _cell(_require(obj, "target", path), f"{path}['target']")
    arms_obj = _mapping(_require(obj, "arms", path), f"{path}['arms']")
    if not arms_obj:
        raise _fail(f"{path}['arms']", "no arms")
    arms = tuple(
        _arm(str(name), arms_obj[name], f"{path}['arms'][{name!r}]")
        for name in sort_arms(set(arms_obj))
    )
    gain = None
    if obj.get("gain") is not None:
        gain = _contrast(
            "related_minus_unrelated", obj["gain"], f"{path}['gain']",
            ("related_minus_unrelated", "diff"),
        )  # fmt: skip
    diffs_obj = _mapping(obj.get("diffs") or {}, f"{path}['diffs']")
    diffs = tuple(
        _contrast(str(k), diffs_obj[k], f"{path}['diffs'][{k!r}]", ("diff", str(k)))
        for k in sorted(diffs_obj)
    )
    if gain is not None and gain.n_boot is None:
        # the runner copies the gain from diffs without n_boot; take it from there
        twin = next((d for d in diffs if d.name == gain.name), None)
        if twin is not None and twin.n_boot is not None:
            gain = Contrast(gain.name, gain.diff, gain.ci95, gain.p_value, twin.n_boot)
    return Target(cell=cell, arms=arms, gain=gain, diffs=diffs)


def parse_metrics(metrics: Any) -> Report:
    """Validate the runner's metrics dict; raise :class:`MedmatError` naming the bad key."""
    obj = _mapping(metrics, "")
    raw_targets = _require(obj, "targets", "")
    if isinstance(raw_targets, (str, Mapping)) or not isinstance(raw_targets, Sequence):
        raise _fail("['targets']", f"expected a list, got {type(raw_targets).__name__}")
    if not raw_targets:
        raise _fail("['targets']", "empty list: the experiment evaluated no target")
    targets = tuple(_target(t, f"['targets'][{i}]") for i, t in enumerate(raw_targets))
    raw_lattice = obj.get("lattice") or ()
    if isinstance(raw_lattice, (str, Mapping)) or not isinstance(raw_lattice, Sequence):
        raise _fail("['lattice']", f"expected a list, got {type(raw_lattice).__name__}")
    lattice = tuple(_cell(c, f"['lattice'][{i}]") for i, c in enumerate(raw_lattice))
    seeds_raw = obj.get("seeds")
    if seeds_raw is None:
        seeds_raw = [obj["seed"]] if obj.get("seed") is not None else []
    if isinstance(seeds_raw, (str, Mapping)) or not isinstance(seeds_raw, Sequence):
        raise _fail("['seeds']", f"expected a list of seeds, got {seeds_raw!r}")
    lab = obj.get("lab")
    if lab is not None:
        lab = _mapping(lab, "['lab']")
    config = obj.get("config") or {}
    return Report(
        targets=targets,
        lattice=lattice,
        seeds=tuple(_count(s, f"['seeds'][{i}]") for i, s in enumerate(seeds_raw)),
        wall_seconds=_number(obj.get("wall_seconds"), "['wall_seconds']"),
        backend=None if obj.get("backend") is None else str(obj["backend"]),
        lab=lab,
        config=_mapping(config, "['config']"),
    )
