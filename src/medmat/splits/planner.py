"""Plan compositional-generalization experiments: which subsets each arm trains on.

For a target subset (M, A, T):

* ``related``: subsets that together cover M, A and T, none with the target's own combination,
  preferring subsets that share two elements with the target (as in the Med-MAT study);
* ``unrelated``: subsets sharing no element with the target, size-matched to ``related``;
* ``only_modality`` / ``only_area`` / ``only_task``: subsets sharing exactly that element,
  size-matched, to attribute a gain to one element;
* ``target_trained``: the target's own training split (the upper bound);
* ``untrained``: no training at all (chance level for the backend);
* ``general_only``: the general-domain mix alone (what knowing the label words gives);
* ``components``: one arm ``component_<subset>`` per related subset, that subset alone,
  size-matched to ``related`` (capped by the subset's training split): related beating its best
  single component (these and the ``only_*`` arms) is recombination, not one-source transfer.

General-domain subsets (modality "Photo": everyday photographs, the lab's photo-scene cells) are
never a target nor a related, unrelated or single-element source. With ``general_items`` the
same general-domain mix (same subsets, same budgets) goes into every arm that trains, as the
Med-MAT study mixed a general VQA set into every run; ``untrained`` stays untrained.

Ties among equally good related subsets are broken by :data:`TIE_RULE`, and every greedy step
(its candidates and what decided) is reported in ``Plan.to_dict()["selection"]``.

An arm is data (:class:`Arm`): subsets with item budgets plus optionally N items of the target's
own training split, so other designs are configs, not code. :func:`check_plan` refuses any arm
that would put the target combination or a target test image into training.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from medmat.errors import MedmatError
from medmat.splits.lattice import ELEMENTS, SubsetInfo

BUILTIN_ARMS = (
    "related",
    "unrelated",
    "only_modality",
    "only_area",
    "only_task",
    "target_trained",
    "untrained",
    "general_only",
    "components",
)
COMPONENT_PREFIX = "component_"
TIE_RULE = (
    "related subsets: greedy cover of the target's modality, area and task by subsets that are "
    "not the target combination; each step prefers the subset covering the most missing "
    "elements, then sharing the most elements with the target, then keeping the task "
    "(modality+task, area+task, modality+area). Candidates equal on all of that tie; the tie "
    "goes to the most training items (counted up to the per-subset budget), then the closest "
    "label space (Jaccard similarity of the label sets, then the smallest difference in the "
    "number of labels), then a draw seeded by the plan seed, the target and the step."
)
# preference among subsets sharing two elements: keep the task (labels) and vary one factor
_PAIR_PREFERENCE = [
    frozenset({"modality", "task"}),
    frozenset({"area", "task"}),
    frozenset({"modality", "area"}),
]


@dataclass(frozen=True)
class Arm:
    """Training data of one arm: {subset: item budget} plus ``target_items`` target items,
    plus ``general`` ({general-domain subset: budget}, the same in every arm that trains)."""

    name: str
    budgets: dict[str, int] = field(default_factory=dict)
    target_items: int = 0
    general: dict[str, int] = field(default_factory=dict)

    @property
    def n_train(self) -> int:
        """Every training item of the arm (general-domain items included)."""
        return sum(self.budgets.values()) + self.target_items + sum(self.general.values())

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "budgets": dict(sorted(self.budgets.items())),
            "target_items": self.target_items,
            "general": dict(sorted(self.general.items())),
        }


@dataclass(frozen=True)
class Pick:
    """One greedy step of the related cover: the tied candidates and what chose among them."""

    covers: tuple[str, ...]  # target elements this step newly covers
    candidates: tuple[str, ...]  # subsets equally good by design (sorted ids)
    chosen: str
    decided_by: str  # single candidate | most training items | closest label space | seeded draw

    def to_dict(self) -> dict:
        return {"covers": list(self.covers), "candidates": list(self.candidates),
                "chosen": self.chosen, "decided_by": self.decided_by}


@dataclass(frozen=True)
class Plan:
    target: SubsetInfo
    arms: tuple[Arm, ...]
    picks: tuple[Pick, ...] = ()  # how ``related`` was chosen

    def to_dict(self) -> dict:
        t = self.target
        return {
            "target": {"subset": t.subset, "modality": t.modality, "area": t.area, "task": t.task},
            "arms": [a.to_dict() for a in self.arms],
            "selection": {"rule": TIE_RULE, "related": [p.to_dict() for p in self.picks]},
        }


def _rank(target: SubsetInfo, s: SubsetInfo, covered: set[str]) -> tuple:
    """The design preference of a candidate (smaller is better); equal ranks are ties."""
    shared = target.shared(s)
    pref = _PAIR_PREFERENCE.index(shared) if shared in _PAIR_PREFERENCE else len(_PAIR_PREFERENCE)
    return (-len(shared - covered), -len(shared), pref)


def _label_closeness(target: SubsetInfo, s: SubsetInfo) -> tuple[float, int]:
    """(Jaccard similarity of the label sets, -|difference in label count|): larger is closer."""
    a, b = set(target.labels), set(s.labels)
    jaccard = len(a & b) / len(a | b) if a | b else 0.0
    return (jaccard, -abs(len(a) - len(b)))


def _break_tie(target: SubsetInfo, tied: list[SubsetInfo], step: int, seed: int,
               budget: int | None) -> tuple[SubsetInfo, str]:
    """Apply the tie rule (see TIE_RULE) to equally good candidates."""
    if len(tied) == 1:
        return tied[0], "single candidate"
    for name, key in (
        ("most training items", lambda s: s.n_train if budget is None else min(s.n_train, budget)),
        ("closest label space", lambda s: _label_closeness(target, s)),
    ):
        best = max(key(s) for s in tied)
        tied = [s for s in tied if key(s) == best]
        if len(tied) == 1:
            return tied[0], name
    rng = random.Random(f"{seed}|related|{target.subset}|{step}")
    return rng.choice(sorted(tied, key=lambda s: s.subset)), "seeded draw"


def related_selection(target: SubsetInfo, lattice: dict[str, SubsetInfo], *, seed: int = 0,
                      budget: int | None = None) -> tuple[list[SubsetInfo], list[Pick]]:
    """Greedy cover of the target's three elements by subsets other than the target combination,
    with the tie candidates and the deciding rule of every step (see :data:`TIE_RULE`).

    ``budget`` (the per-subset budget) caps the training items compared in the tie-break: two
    subsets that both fill the budget give the arm the same amount of data.
    """
    candidates = [
        s
        for s in lattice.values()
        if s.triplet != target.triplet and s.n_train > 0 and target.shared(s) and not s.general
    ]
    chosen: list[SubsetInfo] = []
    picks: list[Pick] = []
    covered: set[str] = set()
    while covered != set(ELEMENTS):
        useful = [c for c in candidates if c not in chosen and target.shared(c) - covered]
        best = None
        if useful:
            top = min(_rank(target, c, covered) for c in useful)
            tied = sorted((c for c in useful if _rank(target, c, covered) == top),
                          key=lambda c: c.subset)
            best, decided_by = _break_tie(target, tied, len(picks), seed, budget)
            picks.append(Pick(tuple(e for e in ELEMENTS if e in target.shared(best) - covered),
                              tuple(c.subset for c in tied), best.subset, decided_by))
        if best is None:
            missing = [e for e in ELEMENTS if e not in covered]
            raise MedmatError(
                f"cannot build a related arm for {target.describe()}: no training subset supplies "
                f"its {', '.join(missing)} (without being the target combination). Add subsets "
                "with that element to the lattice, or choose another target."
            )
        chosen.append(best)
        covered |= target.shared(best)
    return chosen, picks


def related_subsets(target: SubsetInfo, lattice: dict[str, SubsetInfo], *, seed: int = 0,
                    budget: int | None = None) -> list[SubsetInfo]:
    """The subsets of :func:`related_selection` (without the tie report)."""
    return related_selection(target, lattice, seed=seed, budget=budget)[0]


def _size_matched(
    name: str,
    pool: list[SubsetInfo],
    n_items: int,
    seed: int,
    target: SubsetInfo,
    avoid: frozenset[str] = frozenset(),
) -> Arm:
    """Draw subsets from ``pool`` (seeded order) and split ``n_items`` across them.

    Subsets in ``avoid`` (the experiment's other targets) are used only if nothing else fits,
    so one target's evaluation data does not double as another arm's training data.
    """
    if n_items <= 0:
        return Arm(name, {})
    pool = sorted(pool, key=lambda s: s.subset)
    random.Random(f"{seed}|{name}|{target.subset}").shuffle(pool)
    pool.sort(key=lambda s: s.subset in avoid)  # stable: keeps the seeded order within groups
    picked: list[SubsetInfo] = []
    for s in pool:
        picked.append(s)
        if sum(p.n_train for p in picked) >= n_items and len(picked) >= 2:
            break
    if sum(p.n_train for p in picked) < n_items:
        raise MedmatError(
            f"cannot size-match arm {name!r} for {target.describe()}: it needs {n_items} training "
            f"items but its candidate subsets hold {sum(p.n_train for p in picked)} "
            f"({[p.subset for p in picked] or 'none'}). Lower budget_per_subset or add subsets."
        )
    return Arm(name, _water_fill(picked, n_items))


def _water_fill(picked: list[SubsetInfo], n_items: int) -> dict[str, int]:
    """Split ``n_items`` into equal shares across ``picked``, capped by what each subset holds
    (the caller checked that they hold enough)."""
    budgets = {s.subset: 0 for s in picked}
    remaining = n_items
    while remaining:
        open_subsets = [s for s in picked if budgets[s.subset] < s.n_train]
        share = max(1, remaining // len(open_subsets))
        for s in open_subsets:
            take = min(share, s.n_train - budgets[s.subset], remaining)
            budgets[s.subset] += take
            remaining -= take
            if not remaining:
                break
    return {k: v for k, v in budgets.items() if v}


def general_mix(lattice: dict[str, SubsetInfo], n_items: int) -> dict[str, int]:
    """The general-domain mix: ``n_items`` split evenly over every general-domain subset.

    Deterministic (no draw): every arm and every seed gets the same subsets and budgets.
    """
    if n_items <= 0:
        return {}
    pool = sorted((s for s in lattice.values() if s.general and s.n_train),
                  key=lambda s: s.subset)
    held = sum(s.n_train for s in pool)
    if held < n_items:
        raise MedmatError(
            f"general_items={n_items}: the data holds {held} general-domain training items "
            f"({[s.subset for s in pool] or 'no Photo subset'}); add general-domain cells "
            "(e.g. photo-scene-lesion) with enough training items, or lower general_items"
        )
    return _water_fill(pool, n_items)


def plan_target(
    target: SubsetInfo,
    lattice: dict[str, SubsetInfo],
    arms: list[str | dict],
    *,
    budget_per_subset: int = 1000,
    target_items: int = 0,
    seed: int = 0,
    avoid: frozenset[str] = frozenset(),
    general_items: int = 0,
) -> Plan:
    """Build the arms for one target; ``arms`` holds builtin names or explicit arm dicts.

    ``general_items`` > 0 adds the same general-domain mix (:func:`general_mix`) to every arm
    except ``untrained``; ``general_only`` is that mix alone.
    """
    if budget_per_subset < 1:
        raise MedmatError(f"budget_per_subset must be >= 1, got {budget_per_subset}")
    if target.general:
        raise MedmatError(
            f"target {target.describe()} is general-domain data (modality {target.modality}): it "
            "is mixed into every arm (general_items), never a CG target; choose a medical subset"
        )
    if target.n_test == 0:
        raise MedmatError(f"target {target.describe()} has no test split to evaluate on")
    general = general_mix(lattice, general_items)
    related, picks = related_selection(target, lattice, seed=seed, budget=budget_per_subset)
    rel_arm = Arm(
        "related", {s.subset: min(budget_per_subset, s.n_train) for s in related}, target_items
    )
    n_rel = sum(rel_arm.budgets.values())
    built: list[Arm] = []
    for spec in arms:
        if isinstance(spec, dict):
            built.append(_explicit_arm(spec, lattice))
        elif spec == "related":
            built.append(rel_arm)
        elif spec == "unrelated":
            pool = [s for s in lattice.values()
                    if not target.shared(s) and s.n_train and not s.general]
            arm = _size_matched("unrelated", pool, n_rel, seed, target, avoid)
            built.append(Arm("unrelated", arm.budgets, target_items))
        elif spec in ("only_modality", "only_area", "only_task"):
            element = spec.removeprefix("only_")
            pool = [
                s
                for s in lattice.values()
                if target.shared(s) == frozenset({element}) and s.n_train and not s.general
            ]
            arm = _size_matched(spec, pool, n_rel, seed, target, avoid)
            built.append(Arm(spec, arm.budgets, target_items))
        elif spec == "components":
            built += [Arm(f"{COMPONENT_PREFIX}{s.subset}", {s.subset: min(n_rel, s.n_train)},
                          target_items) for s in related]
        elif spec == "target_trained":
            built.append(Arm("target_trained", {target.subset: min(n_rel, target.n_train)}))
        elif spec == "untrained":
            built.append(Arm("untrained", {}))
        elif spec == "general_only":
            if not general:
                raise MedmatError("arm 'general_only' needs general_items > 0 (and general-domain "
                                  "subsets in the data, e.g. photo-scene-lesion)")
            built.append(Arm("general_only", {}))
        else:
            raise MedmatError(
                f"unknown arm {spec!r}; use one of {BUILTIN_ARMS} or a dict "
                "{name, subsets: {subset: budget}, target_items}"
            )
    names = [a.name for a in built]
    if len(set(names)) != len(names):
        raise MedmatError(f"arm names must be unique, got {names}")
    built = [a if a.name == "untrained" else replace(a, general=dict(general)) for a in built]
    plan = Plan(target, tuple(built), tuple(picks))
    check_plan(plan, lattice)
    return plan


def _explicit_arm(spec: dict, lattice: dict[str, SubsetInfo]) -> Arm:
    unknown = set(spec) - {"name", "subsets", "target_items"}
    if "name" not in spec or unknown:
        raise MedmatError(
            f"arm {spec}: needs 'name', optional 'subsets' and 'target_items' "
            f"(unknown keys: {sorted(unknown)})"
        )
    budgets = {}
    for sub, budget in (spec.get("subsets") or {}).items():
        if sub not in lattice:
            raise MedmatError(f"arm {spec['name']!r}: unknown subset {sub!r}")
        if not isinstance(budget, int) or budget < 1 or budget > lattice[sub].n_train:
            raise MedmatError(
                f"arm {spec['name']!r}: budget {budget!r} for {sub} must be an integer between 1 "
                f"and its {lattice[sub].n_train} training items"
            )
        budgets[sub] = budget
    return Arm(str(spec["name"]), budgets, int(spec.get("target_items", 0)))


def check_plan(plan: Plan, lattice: dict[str, SubsetInfo]) -> None:
    """Refuse arms that train on the target combination (other than the target_trained bound),
    and general-domain mixes that are not general-domain data or differ between arms."""
    t = plan.target
    mixes = {tuple(sorted(a.general.items())) for a in plan.arms if a.name != "untrained"}
    if len(mixes) > 1:
        raise MedmatError(f"target {t.subset}: the arms have different general-domain mixes "
                          f"{sorted(mixes)}; every trained arm must get the same one")
    for arm in plan.arms:
        for sub, budget in arm.general.items():
            if sub not in lattice or not lattice[sub].general:
                raise MedmatError(f"arm {arm.name!r}: {sub!r} in its general-domain mix is not "
                                  "a general-domain (Photo) subset of the data")
            if not 1 <= budget <= lattice[sub].n_train:
                raise MedmatError(f"arm {arm.name!r}: general budget {budget} for {sub} must be "
                                  f"within 1..{lattice[sub].n_train}")
        if arm.target_items < 0 or arm.target_items > t.n_train:
            raise MedmatError(
                f"arm {arm.name!r}: target_items {arm.target_items} must be within "
                f"0..{t.n_train} (the target's training split)"
            )
        for sub in arm.budgets:
            if lattice[sub].triplet == t.triplet and arm.name != "target_trained":
                raise MedmatError(
                    f"arm {arm.name!r} trains on {lattice[sub].describe()}, which is the target "
                    "combination itself; CG arms must never see it (use target_items for a "
                    "data-efficiency curve, or the target_trained arm for the upper bound)"
                )
