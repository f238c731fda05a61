"""The one planner of the ``pairwise`` and ``ablation`` designs, on any set of MAT subsets.

The subsets come from the catalog of the 53 upstream subsets (:mod:`medmat.study.catalog_plan`),
from a synthetic lab or from a records table (:mod:`medmat.study.lattice_plan`); the rules are the
Med-MAT study's (``designs.yaml``).

Pairwise (the CG map), for a target (M, A, T) and never its own combination in training:

* ``fixed_modality``: source A = (M, A, other task) supplies the area, B = (M, other area, T)
  the task; ``fixed_area``: A = (M, A, other task) supplies the modality, B = (other modality,
  A, T) the task;
* ``fixed_task``: A = (M, other area, same task kind) supplies the modality, B = (other modality,
  A, same task kind) the area; the task is fixed at the study's task-kind level ("COVID and
  cancer fold into state") and at least one source has the exact task T;
* ``modality_area_pair`` (only for modality-area pairs that always go together, such as
  Dermoscopy-Skin): A = (M, A, other task) supplies the pair, B = (other modality, other
  area, T) the task.

Each combination trains each source up to the cap and gets an ``unrelated`` arm of the same total
size from subsets sharing no modality, no area and no task kind with the target. The primary
combination of each (target, direction) is the first by :data:`PRIMARY_RULE`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

DIRECTIONS = ("fixed_modality", "fixed_area", "fixed_task", "modality_area_pair")
PRIMARY_RULE = (
    "per target and direction: fixed-task pairs whose sources both have the exact task first, "
    "then the most training items (sources up to the cap), then the lowest subset numbers"
)
ABLATION_ARMS = ("untrained", "all_unrelated", "all_related", "related_no_modality",
                 "related_no_area", "related_no_task", "all_except_target")  # fmt: skip


@dataclass(frozen=True)
class Source:
    """A catalog subset as the planner sees it. ``n_train`` None: size unknown (assumed)."""

    no: str
    modality: str
    area: str
    task: str
    kind: str
    classification: bool
    n_train: int | None = None

    @property
    def triplet(self) -> tuple[str, str, str]:
        return (self.modality, self.area, self.task)

    def mat(self) -> str:
        return f"{self.modality} / {self.area} / {self.task}"

    def capacity(self, cap: int) -> int:
        return cap if self.n_train is None else min(cap, self.n_train)

    def can_train(self, cap: int) -> bool:
        """The study: subsets that cannot supply the cap are test-only (never train)."""
        return self.classification and (self.n_train is None or self.n_train >= cap)


@dataclass(frozen=True)
class Combination:
    """One pairwise experiment: two sources for a target, and its size-matched control."""

    target: Source
    direction: str
    source_a: Source
    source_b: Source
    related: dict[str, int]
    unrelated: dict[str, int]
    task_match: str  # fixed_task: "exact" or "kind" (of the sources' tasks); else "-"
    primary: bool = False

    @property
    def fixed(self) -> str:
        return {"fixed_modality": "modality", "fixed_area": "area", "fixed_task": "task",
                "modality_area_pair": "modality+area"}[self.direction]  # fmt: skip

    @property
    def name(self) -> str:
        return f"pairwise-{self.target.no}-{self.direction}-{self.source_a.no}+{self.source_b.no}"


@dataclass(frozen=True)
class AblationArm:
    target: Source
    name: str
    budgets: dict[str, int]
    available: int  # items the arm's subsets could supply before the arm cap


@dataclass
class CatalogPlan:
    """A design planned on a set of subsets. ``skipped``: target -> why it got no experiment."""

    design: str
    cap: int
    sizes_known: bool
    combinations: list[Combination] = field(default_factory=list)
    ablation: list[AblationArm] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    arm_cap: int | None = None
    # what the plan was made on: "catalog" (the 53 upstream subsets), "lab" or "records"
    source: str = "catalog"
    # the cls-det design's experiments (medmat.study.clsdet.ClsDetCombination)
    clsdet: list = field(default_factory=list)
    # the experiments of the designs with their own modules (medmat.study.designs.MODULES):
    # objects with a ``target`` (Source) and a ``name`` (the experiment)
    rows: list = field(default_factory=list)
    # the backbones design: the backends or models every row runs with
    # (medmat.study.backbones.Backbone), set after planning from the command line
    backbones: list = field(default_factory=list)

    @property
    def targets(self) -> list[str]:
        found = [c.target.no for c in self.combinations] + [a.target.no for a in self.ablation]
        found += [c.target.no for c in self.clsdet] + [r.target.no for r in self.rows]
        return sorted(set(found))


def paired_modality_areas(sources: Iterable[Source]) -> set[tuple[str, str]]:
    """Modality-area pairs that always go together: the modality is only ever seen with that
    area and the area only with that modality (over every subset given)."""
    subs = list(sources)
    areas_of: dict[str, set[str]] = {}
    mods_of: dict[str, set[str]] = {}
    for s in subs:
        areas_of.setdefault(s.modality, set()).add(s.area)
        mods_of.setdefault(s.area, set()).add(s.modality)
    return {(m, next(iter(a))) for m, a in areas_of.items()
            if len(a) == 1 and mods_of[next(iter(a))] == {m}}  # fmt: skip



def training_pool(sources: Mapping[str, Source], t: Source, cap: int) -> list[Source]:
    """The subsets that may train an experiment on target ``t``: able to supply the cap (the
    test-only rule) and not the target's own combination."""
    return [s for s in sources.values() if s.can_train(cap) and s.triplet != t.triplet]


def unrelated_pool(t: Source, pool: list[Source]) -> list[Source]:
    """The subsets sharing no modality, area or task kind with ``t`` (the unrelated control)."""
    return [s for s in pool
            if s.modality != t.modality and s.area != t.area and s.kind != t.kind]  # fmt: skip


def water_fill(capacity: Mapping[str, int], n_items: int) -> dict[str, int]:
    """Spread ``n_items`` as evenly as capacities allow (smallest first, ceiling shares)."""
    out: dict[str, int] = {}
    remaining = n_items
    order = sorted(capacity.items(), key=lambda kv: (kv[1], kv[0]))
    for i, (sub, cap) in enumerate(order):
        take = min(cap, -(-remaining // (len(order) - i)))
        if take > 0:
            out[sub] = take
            remaining -= take
    return dict(sorted(out.items()))


def size_matched(
    pool: list[Source], n_items: int, n_subsets: int, cap: int, seed_key: str
) -> dict[str, int]:
    """Budgets from a seeded draw of ``pool`` totalling exactly ``n_items`` (empty if the pool
    cannot supply them), over at least ``n_subsets`` subsets when the pool has them."""
    order = sorted(pool, key=lambda s: s.no)
    random.Random(seed_key).shuffle(order)
    picked: list[Source] = []
    for s in order:
        if len(picked) >= n_subsets and sum(p.capacity(cap) for p in picked) >= n_items:
            break
        picked.append(s)
    if sum(p.capacity(cap) for p in picked) < n_items:
        return {}
    return water_fill({p.no: p.capacity(cap) for p in picked}, n_items)


def _pairs(t: Source, pool: list[Source], paired: set[tuple[str, str]]):
    """(direction, A, B) candidates for target ``t`` following the module docstring."""
    ma = [s for s in pool if s.modality == t.modality and s.area == t.area and s.task != t.task]
    if (t.modality, t.area) in paired:
        b = [s for s in pool if s.modality != t.modality and s.area != t.area and s.task == t.task]
        yield from (("modality_area_pair", x, y) for x in ma for y in b)
        return
    b_mod = [s for s in pool if s.modality == t.modality and s.area != t.area and s.task == t.task]
    b_area = [s for s in pool if s.area == t.area and s.modality != t.modality and s.task == t.task]
    yield from (("fixed_modality", x, y) for x in ma for y in b_mod)
    yield from (("fixed_area", x, y) for x in ma for y in b_area)
    a_task = [s for s in pool if s.modality == t.modality and s.area != t.area and s.kind == t.kind]
    b_task = [s for s in pool if s.area == t.area and s.modality != t.modality and s.kind == t.kind]
    for x in a_task:
        for y in b_task:
            if t.task in (x.task, y.task):  # the pair supplies the exact task, not only its kind
                yield "fixed_task", x, y


def plan_pairwise_on(
    plan: CatalogPlan,
    sources: Mapping[str, Source],
    chosen: Sequence[Source],
    *,
    seed: int = 0,
    paired: set[tuple[str, str]] | None = None,
) -> CatalogPlan:
    """Add every pairwise combination of each ``chosen`` target to ``plan`` (see the module
    docstring); a target without one goes to ``plan.skipped``. ``paired``: the modality-area
    pairs that always go together (default: computed over ``sources``)."""
    cap = plan.cap
    paired = paired_modality_areas(sources.values()) if paired is None else paired
    for t in chosen:
        pool = training_pool(sources, t, cap)
        found: list[Combination] = []
        for direction, a, b in _pairs(t, pool, paired):
            related = {a.no: a.capacity(cap), b.no: b.capacity(cap)}
            key = f"{seed}|{t.no}|{direction}|{a.no}+{b.no}"
            unrelated = size_matched(unrelated_pool(t, pool), sum(related.values()), 2, cap, key)
            if not unrelated:
                continue
            # only a fixed task can match at the kind level; the others vary it exactly
            match = "-" if direction != "fixed_task" else (
                "exact" if a.task == b.task == t.task else "kind")
            found.append(Combination(t, direction, a, b, related, unrelated, match))
        if not found:
            plan.skipped[t.no] = _why_no_pair(t, pool, paired)
        plan.combinations.extend(_mark_primary(found))
    return plan


def _mark_primary(found: list[Combination]) -> list[Combination]:
    def rank(c: Combination) -> tuple:
        return (c.task_match == "kind", -sum(c.related.values()), c.source_a.no, c.source_b.no)

    best = {}
    for c in sorted(found, key=rank):
        best.setdefault(c.direction, c)
    primaries = {id(c) for c in best.values()}
    ordered = sorted(found, key=lambda c: (DIRECTIONS.index(c.direction), rank(c)))
    return [replace(c, primary=id(c) in primaries) for c in ordered]


def _why_no_pair(t: Source, pool: list[Source], paired: set[tuple[str, str]]) -> str:
    if not any(s.modality == t.modality and s.area == t.area for s in pool):
        if (t.modality, t.area) in paired:
            return f"no other {t.modality} / {t.area} task can train"
        return f"no other task on {t.modality} / {t.area} and no fixed-task pair"
    if not any(s.task == t.task for s in pool):
        return f"no other subset can supply the task {t.task!r}"
    return "no pair of training subsets covers the three elements in a direction type"


def plan_ablation_on(
    plan: CatalogPlan,
    sources: Mapping[str, Source],
    chosen: Sequence[Source],
    arm_names: Sequence[str] = ABLATION_ARMS,
) -> CatalogPlan:
    """Add the multi-task ablation arms of each ``chosen`` target to ``plan`` (each subset up to
    ``plan.cap``, each arm up to ``plan.arm_cap`` items, spread evenly)."""
    cap = plan.cap
    arm_cap = plan.arm_cap if plan.arm_cap is not None else cap * len(sources)
    for t in chosen:
        pool = training_pool(sources, t, cap)
        related = [s for s in pool if s.modality == t.modality or s.area == t.area
                   or s.task == t.task]  # fmt: skip
        missing = [e for e in ("modality", "area", "task")
                   if not any(getattr(s, e) == getattr(t, e) for s in related)]  # fmt: skip
        if missing:  # "related without X" would equal "all related": the ablation is undefined
            plan.skipped[t.no] = f"no training subset supplies its {' or '.join(missing)}"
            continue
        arms = {
            "untrained": [],
            "all_unrelated": unrelated_pool(t, pool),
            "all_related": related,
            "related_no_modality": [s for s in related if s.modality != t.modality],
            "related_no_area": [s for s in related if s.area != t.area],
            "related_no_task": [s for s in related if s.task != t.task],
            "all_except_target": pool,
        }
        for name in arm_names:
            subs = arms[name]
            capacity = {s.no: s.capacity(cap) for s in subs}
            available = sum(capacity.values())
            budgets = water_fill(capacity, min(arm_cap, available))
            plan.ablation.append(AblationArm(t, name, budgets, available))
    return plan
