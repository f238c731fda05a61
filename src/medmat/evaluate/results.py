"""Typed results of an experiment: what ``metrics.json`` holds and what the report reads.

The runner builds these objects from the statistics in :mod:`medmat.evaluate`; ``metrics.json``
is their versioned JSON serialisation (:meth:`ExperimentResult.to_json`), and the report reads
it back through the same types (:func:`load_result`), so a field cannot be written under one
name and read under another. An old or foreign ``metrics.json`` fails with a message naming the
missing or malformed field, never a traceback.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from medmat.errors import MedmatError

# Version 2: arms and contrasts are lists of typed objects; no wall time (metrics are a pure
# function of the predictions, so a rerun writes identical bytes).
# Version 3: grounding targets: optional box metrics per arm (``boxes``), per contrast
# (``metric``, ``boxes``) and the whole-image baseline per target. A version-2 file is a valid
# version-3 file without them, so both are read.
METRICS_SCHEMA_VERSION = 3
READABLE_SCHEMA_VERSIONS = (2, 3)
# The four arms of every CG comparison, in the order tables and plots show them; any other arm
# (ablations such as "only_modality") follows, sorted by name.
CANONICAL_ARMS = ("related", "unrelated", "target_trained", "untrained")

Interval = tuple[float, float]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_interval(value: Interval | None) -> Interval | None:
    if value is not None and value[0] > value[1]:
        raise ValueError(f"interval low {value[0]} is above high {value[1]}")
    return value


def _finite_or_none(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


class Cell(_Model):
    """One MAT subset of the lattice (with its split sizes when known)."""

    modality: str
    area: str
    task: str
    subset: str
    n_train: int | None = None
    n_test: int | None = None


class LetterBias(_Model):
    """Predicted vs gold answer letters (see :func:`medmat.evaluate.letter_bias`)."""

    letters: list[str]
    n: int
    n_answered: int
    no_answer: int
    predicted: dict[str, int]
    gold: dict[str, int]
    predicted_share: dict[str, float]
    gold_share: dict[str, float]
    max_share_gap: float
    max_letter: str
    chi2: float | None = None
    dof: int | None = None
    p_value: float | None = None
    note: str = ""


class Flag(_Model):
    """One degenerate-model or learnability check (:mod:`medmat.evaluate.degenerate`).

    ``flagged`` means "read no verdict from this arm"; ``share`` is what was measured (mean over
    seeds, ``per_seed`` per run) against ``threshold``; ``reason`` says it in words.
    """

    check: str
    flagged: bool
    share: float
    threshold: float
    reason: str
    per_seed: tuple[float, ...] = ()


class Verdict(_Model):
    """One question asked of a target: the contrast that answers it and what it says.

    ``question`` is e.g. "related vs unrelated"; ``contrast`` names an entry of
    ``TargetResult.diffs``; ``verdict`` is one of :data:`medmat.evaluate.degenerate.VERDICTS`
    (with the contrast's own words for the two directions).
    """

    question: str
    contrast: str
    verdict: str


class BoxMetric(_Model):
    """One grounding metric (cIoU, mIoU or acc@0.5) of one arm over every training seed."""

    value: float
    ci95: Interval
    per_seed: tuple[float, ...] = ()

    _interval = field_validator("ci95")(_check_interval)


class BoxArm(_Model):
    """An arm's grounding metrics (:mod:`medmat.evaluate.box_seeds`); ``n_miss`` counts
    replies without a readable box over every seed run (each scored IoU 0)."""

    ciou: BoxMetric
    miou: BoxMetric
    acc50: BoxMetric
    n_miss: int = 0
    miss_per_seed: tuple[int, ...] = ()
    threshold: float = 0.5
    method: str = ""


class BoxDelta(_Model):
    """One grounding metric of arm ``a`` minus arm ``b`` on the same items, paired."""

    diff: float
    ci95: Interval
    p_value: float | None = None
    a: float | None = None
    b: float | None = None
    per_seed: tuple[float, ...] = ()

    _interval = field_validator("ci95")(_check_interval)


class ArmResult(_Model):
    """One training arm evaluated on one target's test items (over every training seed)."""

    name: str
    accuracy: float | None
    ci95: Interval | None
    n: int
    n_correct: int | None = None
    no_answer: int = 0
    chance: float | None = None
    confidence: float = 0.95
    n_seeds: int = 1
    ci_method: str = "wilson"
    train_subsets: tuple[str, ...] = ()
    budgets: dict[str, int] = {}
    target_items: int = 0
    n_train: int = 0
    letter_bias: LetterBias | None = None
    per_seed: tuple[float, ...] = ()
    mean: float | None = None
    sd: float | None = None
    general: dict[str, int] = {}  # the general-domain mix (the same in every trained arm)
    flags: tuple[Flag, ...] = ()  # every check run on the arm; see ``flagged``
    # grounding targets: cIoU, mIoU and acc@0.5; ``accuracy`` is then acc@0.5 (IoU >= 0.5)
    boxes: BoxArm | None = None

    _interval = field_validator("ci95")(_check_interval)
    _finite = field_validator("accuracy", "mean", "sd", "chance")(_finite_or_none)

    @property
    def flagged(self) -> tuple[Flag, ...]:
        """The checks that failed: a verdict involving this arm is uninformative."""
        return tuple(f for f in self.flags if f.flagged)


class Contrast(_Model):
    """``metric`` of arm ``a`` minus arm ``b`` on the same items, with a paired interval.

    ``metric`` is "accuracy" (classification) or "ciou" (grounding targets: the study's
    metric; ``acc_a``/``acc_b`` then hold the two arms' cIoU and ``boxes`` every box metric's
    difference: ciou, miou, acc50).
    """

    name: str
    diff: float | None
    ci95: Interval | None
    p_value: float | None = None
    se: float | None = None
    n: int | None = None
    acc_a: float | None = None
    acc_b: float | None = None
    n_boot: int | None = None  # bootstrap replicates: a p-value of 0 means "below 2/n_boot"
    seed: int | None = None
    confidence: float = 0.95
    n_seeds: int = 1
    method: str = ""  # what the interval covers (e.g. the two-level bootstrap over seeds)
    per_seed: tuple[float, ...] = ()  # per-seed differences (seed i of a minus seed i of b)
    per_seed_a: tuple[float, ...] = ()
    per_seed_b: tuple[float, ...] = ()
    metric: str = "accuracy"
    boxes: dict[str, BoxDelta] | None = None

    _interval = field_validator("ci95")(_check_interval)


class TargetResult(_Model):
    """Every arm and contrast of one target; JSON keys are arm and contrast names."""

    target: Cell
    arms: dict[str, ArmResult]
    diffs: dict[str, Contrast] = {}
    dropped_leaky_test_items: int = 0
    # is the target learnable (target_trained's lower bound above chance)? None: not measured
    learnable: bool | None = None
    learnability: Flag | None = None
    verdicts: tuple[Verdict, ...] = ()
    # grounding targets: cIoU of the trivial whole-image box on the same test items
    whole_image_ciou: float | None = None

    @model_validator(mode="after")
    def _names_match(self) -> TargetResult:
        if not self.arms:
            raise ValueError("no arms")
        for kind, table in (("arm", self.arms), ("contrast", self.diffs)):
            for key, value in table.items():
                if value.name != key:
                    raise ValueError(f"{kind} {key!r} is named {value.name!r} inside")
        for v in self.verdicts:
            if v.contrast not in self.diffs:
                raise ValueError(f"verdict {v.question!r} names no contrast {v.contrast!r}")
        return self

    @property
    def cell(self) -> Cell:
        return self.target

    @property
    def is_grounding(self) -> bool:
        """A grounding target: its arms carry box metrics (cIoU decides its verdicts)."""
        return any(a.boxes is not None for a in self.arms.values())

    @property
    def ordered_arms(self) -> tuple[ArmResult, ...]:
        """The arms in report order: canonical ones first, then the rest by name."""
        return tuple(self.arms[n] for n in sort_arms(set(self.arms)))

    def arm(self, name: str) -> ArmResult | None:
        return self.arms.get(name)

    @property
    def gain(self) -> Contrast | None:
        """The study's contrast: related minus unrelated."""
        return self.diffs.get("related_minus_unrelated")

    @property
    def chance(self) -> float | None:
        """Chance accuracy of the target (every arm answers the same items, so any will do)."""
        for name in ("untrained", *sort_arms(set(self.arms))):
            arm = self.arm(name)
            if arm is not None and arm.chance is not None:
                return arm.chance
        return None


class LabInfo(_Model):
    null: bool
    seed: int
    size: int


class ExperimentResult(_Model):
    """Everything an experiment measured; ``metrics.json`` is this object as JSON."""

    schema_version: int
    name: str
    seeds: tuple[int, ...]
    backend: str
    lab: LabInfo | None = None
    config: dict[str, Any] = {}
    lattice: tuple[Cell, ...] = ()
    targets: tuple[TargetResult, ...]

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v not in READABLE_SCHEMA_VERSIONS:
            raise ValueError(
                f"schema version {v} is not {METRICS_SCHEMA_VERSION} (this medmat's) or another "
                f"it reads {READABLE_SCHEMA_VERSIONS}; rerun the experiment with this medmat to "
                "rewrite it"
            )
        return v

    @field_validator("targets")
    @classmethod
    def _some_targets(cls, targets: tuple[TargetResult, ...]) -> tuple[TargetResult, ...]:
        if not targets:
            raise ValueError("empty list: the experiment evaluated no target")
        return targets

    @property
    def arm_names(self) -> tuple[str, ...]:
        """Every arm that appears in any target, canonical ones first."""
        return sort_arms({name for t in self.targets for name in t.arms})

    @property
    def is_null(self) -> bool:
        return self.lab is not None and self.lab.null

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def sort_arms(names: Any) -> tuple[str, ...]:
    canon = [n for n in CANONICAL_ARMS if n in names]
    return tuple(canon + sorted(n for n in names if n not in CANONICAL_ARMS))


def _where(loc: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def load_result(obj: Any, source: str = "metrics") -> ExperimentResult:
    """Validate a metrics mapping into :class:`ExperimentResult`; errors name the field."""
    if isinstance(obj, ExperimentResult):
        return obj
    if not isinstance(obj, Mapping):
        raise MedmatError(f"{source}: expected a JSON object of experiment metrics")
    if "schema_version" not in obj:
        raise MedmatError(
            f"{source}: missing field 'schema_version': not a metrics file of this medmat "
            "(written by an older version or another tool); rerun `medmat experiment run` to "
            "rewrite it"
        )
    try:
        return ExperimentResult.model_validate(dict(obj))
    except ValidationError as exc:
        err = exc.errors()[0]
        what = _where(tuple(err["loc"]))
        problem = "missing field" if err["type"] == "missing" else err["msg"]
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        raise MedmatError(
            f"{source}: {what}: {problem}{more}; rerun `medmat experiment run` or repair the file"
        ) from None
