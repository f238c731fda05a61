"""Typed results of a study run: what the study's ``metrics.json`` holds and the report reads.

Built from the plan table (``plan.csv``: which combination each experiment is) and each
experiment's own typed results (:func:`medmat.evaluate.results.load_result`): the study reuses
the experiments' seed-level intervals, degenerate flags and verdicts, and adds what only a set of
experiments has: "k of n combinations succeed" and a multiplicity-controlled verdict
(:mod:`medmat.study.multiplicity`). Versioned like the experiment metrics; an old or foreign file
fails with a message naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from medmat.errors import MedmatError
from medmat.evaluate.results import Cell, LabInfo

STUDY_SCHEMA_VERSION = 1
SUCCESS_RULE = ("a combination succeeds when the seed-level 95% interval of related - unrelated "
                "lies above 0 and its verdict is not uninformative (no flagged related arm, the "
                "target learnable); per combination, not corrected for multiplicity")  # fmt: skip

Interval = tuple[float, float]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Estimate(_Model):
    """An accuracy or a difference, with its seed-level 95% interval (None when not measured)."""

    value: float | None
    ci95: Interval | None = None
    per_seed: tuple[float, ...] = ()


class CombinationResult(_Model):
    """One pairwise combination: its plan row, its three arms and its gain."""

    experiment: str
    target: Cell
    direction: str
    fixed: str
    source_a: str
    source_a_mat: str
    source_b: str
    source_b_mat: str
    source_c: str = ""  # three-source: the subset supplying the task
    source_c_mat: str = ""
    task_match: str
    primary: bool
    untrained: Estimate
    unrelated: Estimate
    related: Estimate
    gain: Estimate  # related - unrelated, paired on the same test items
    n_items: int | None
    n_seeds: int
    ci_method: str
    succeeds: bool  # see SUCCESS_RULE
    flags: tuple[str, ...] = ()  # degenerate-arm reasons (related or unrelated)
    verdict: str  # the experiment's own verdict (uncorrected interval, flags respected)
    p_value: float | None = None  # one-sided, gain > 0
    p_holm: float | None = None
    p_bh: float | None = None
    verdict_holm: str = ""
    verdict_bh: str = ""


class Multiplicity(_Model):
    alpha: float
    family: int
    p_rule: str
    holm_rule: str
    bh_rule: str
    n_gain_holm: int
    n_gain_bh: int


class AblationArmResult(_Model):
    name: str
    accuracy: Estimate
    n_train: int
    subsets: dict[str, int] = {}
    minus_all_related: Estimate | None = None
    minus_untrained: Estimate | None = None
    flags: tuple[str, ...] = ()


class AblationTarget(_Model):
    experiment: str
    target: Cell
    arms: tuple[AblationArmResult, ...]


class ClsDetArm(_Model):
    """One arm of a cls-det experiment: the target's metric (cIoU for a detection target,
    accuracy for a classification target) and its accuracy (acc@0.5 for detection)."""

    name: str
    n_train: int
    metric: Estimate
    accuracy: Estimate
    n_miss: int | None = None  # detection: replies without a readable box, over every seed


class ClsDetResult(_Model):
    """One cls-det experiment (medmat.study.clsdet): a target helped by the other task kind."""

    experiment: str
    target: Cell
    direction: str  # det_from_cls or cls_from_det
    metric: str  # "ciou" or "accuracy": what the gains and verdicts measure
    arms: tuple[ClsDetArm, ...]
    gain: Estimate | None = None  # related - unrelated, paired
    gain_p: float | None = None
    over_single: Estimate | None = None  # related - target_trained (the study's det+cls gain)
    over_single_p: float | None = None
    verdict: str = ""  # the experiment's related-vs-unrelated verdict (flags respected)
    whole_image_ciou: float | None = None  # detection: the trivial whole-image box


class MultitaskSubset(_Model):
    """One subset of the multitask design (medmat.study.multitask)."""

    experiment: str
    target: Cell
    role: str  # "in-distribution" or "out-of-distribution" (test-only: never trains)
    n_items: int
    untrained: Estimate
    single_task: Estimate | None = None  # out-of-distribution subsets have none
    multi_task: Estimate
    multi_minus_single: Estimate | None = None  # paired on the same test items
    multi_minus_untrained: Estimate


class MultitaskMean(_Model):
    """The means over the subsets of one role (the study's table), with pooled intervals."""

    role: str
    n_subsets: int
    untrained: Estimate
    single_task: Estimate | None = None
    multi_task: Estimate
    multi_minus_single: Estimate | None = None
    multi_minus_untrained: Estimate


class MultitaskResult(_Model):
    subsets: tuple[MultitaskSubset, ...]
    means: tuple[MultitaskMean, ...]
    mean_rule: str


class EfficiencyPoint(_Model):
    items: int  # related items (related curve) or target items on top (target curves)
    arm: str
    accuracy: Estimate


class EfficiencyCurve(_Model):
    name: str  # related, related_target or unrelated_target
    points: tuple[EfficiencyPoint, ...]


class EfficiencyTarget(_Model):
    """One target of the efficiency design (medmat.study.efficiency)."""

    experiment: str
    target: Cell
    curves: tuple[EfficiencyCurve, ...]
    threshold: float
    reach: dict[str, float | None]  # target curve -> interpolated target items to the threshold
    reach_rule: str
    # bootstrap 95% interval of reach per target curve (a None bound: not reached) and the share
    # of replicates whose curve never reaches (medmat.study.efficiency.REACH_CI_RULE)
    reach_ci95: dict[str, tuple[float | None, float | None]] = {}
    reach_not_reached: dict[str, float] = {}
    reach_ci_rule: str = ""


class BackboneResult(_Model):
    """One backbone of the backbones design: its pairwise rows and counts (its own family)."""

    name: str
    backend: str
    model: str = ""  # hf: the model id or folder ("-" when not an hf backbone)
    n_succeed: int
    multiplicity: Multiplicity | None = None
    combinations: tuple[CombinationResult, ...] = ()


class BackboneComparison(_Model):
    """A combination's CG gain on one backbone against the reference backbone's, paired."""

    combination: str  # the pairwise combination's name
    target: Cell
    direction: str
    backbone: str
    reference: str
    gain: Estimate
    reference_gain: Estimate
    difference: Estimate  # gain - reference_gain, two-level bootstrap
    p_value: float | None = None  # two-sided


class StudyResult(_Model):
    """Everything a study run measured; the study's ``metrics.json`` is this object as JSON."""

    schema_version: int
    design: str
    source: str  # "lab", "records" or "catalog": what the plan was made on
    lab: LabInfo | None = None
    seeds: tuple[int, ...]
    backend: str
    experiments: tuple[str, ...]
    success_rule: str = SUCCESS_RULE
    n_succeed: int = 0
    multiplicity: Multiplicity | None = None
    combinations: tuple[CombinationResult, ...] = ()
    ablation: tuple[AblationTarget, ...] = ()
    clsdet: tuple[ClsDetResult, ...] = ()
    multitask: MultitaskResult | None = None
    efficiency: tuple[EfficiencyTarget, ...] = ()
    backbones: tuple[BackboneResult, ...] = ()
    backbone_comparisons: tuple[BackboneComparison, ...] = ()
    backbone_rule: str = ""

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v != STUDY_SCHEMA_VERSION:
            raise ValueError(f"schema version {v} is not {STUDY_SCHEMA_VERSION} (this medmat's); "
                             "rerun `medmat study run` to rewrite it")  # fmt: skip
        return v

    @property
    def n_combinations(self) -> int:
        return len(self.combinations)

    def to_json(self) -> str:
        obj = self.model_dump(mode="json")
        return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def load_study_result(obj: Any, source: str = "study metrics") -> StudyResult:
    """Validate a study metrics mapping into :class:`StudyResult`; errors name the field."""
    if not isinstance(obj, Mapping) or "schema_version" not in obj:
        raise MedmatError(f"{source}: not a study metrics file (no schema_version); rerun "
                          "`medmat study run` to rewrite it")  # fmt: skip
    try:
        return StudyResult.model_validate(dict(obj))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise MedmatError(f"{source}: {where}: {err['msg']}; rerun `medmat study run`") from None
