"""Plan compositional-generalization experiments: which subsets each arm trains on.

For a target subset (M, A, T):

* ``related``: subsets that together cover M, A and T, none with the target's own combination,
  preferring subsets that share two elements with the target (as in the Med-MAT study);
* ``unrelated``: subsets sharing no element with the target, size-matched to ``related``;
* ``only_modality`` / ``only_area`` / ``only_task``: subsets sharing exactly that element,
  size-matched, to attribute a gain to one element;
* ``target_trained``: the target's own training split (the upper bound);
* ``untrained``: no training at all (chance level for the backend).

An arm is data (:class:`Arm`): subsets with item budgets plus optionally N items of the target's
own training split, so other designs are configs, not code. :func:`check_plan` refuses any arm
that would put the target combination or a target test image into training.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

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
)
# preference among subsets sharing two elements: keep the task (labels) and vary one factor
_PAIR_PREFERENCE = [
    frozenset({"modality", "task"}),
    frozenset({"area", "task"}),
    frozenset({"modality", "area"}),
]


@dataclass(frozen=True)
class Arm:
    """Training data of one arm: {subset: item budget} plus ``target_items`` target items."""

    name: str
    budgets: dict[str, int] = field(default_factory=dict)
    target_items: int = 0

    @property
    def n_train(self) -> int:
        return sum(self.budgets.values()) + self.target_items

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "budgets": dict(sorted(self.budgets.items())),
            "target_items": self.target_items,
        }


@dataclass(frozen=True)
class Plan:
    target: SubsetInfo
    arms: tuple[Arm, ...]

    def to_dict(self) -> dict:
        t = self.target
        return {
            "target": {"subset": t.subset, "modality": t.modality, "area": t.area, "task": t.task},
            "arms": [a.to_dict() for a in self.arms],
        }


def _rank(target: SubsetInfo, s: SubsetInfo) -> tuple:
    shared = target.shared(s)
    pref = _PAIR_PREFERENCE.index(shared) if shared in _PAIR_PREFERENCE else len(_PAIR_PREFERENCE)
    return (-len(shared), pref, s.subset)


def related_subsets(target: SubsetInfo, lattice: dict[str, SubsetInfo]) -> list[SubsetInfo]:
    """Greedy cover of the target's three elements by subsets other than the target combination."""
    candidates = [
        s
        for s in lattice.values()
        if s.triplet != target.triplet and s.n_train > 0 and target.shared(s)
    ]
    chosen: list[SubsetInfo] = []
    covered: set[str] = set()
    while covered != set(ELEMENTS):
        best = min(
            (c for c in candidates if c not in chosen and target.shared(c) - covered),
            key=lambda c: (-len(target.shared(c) - covered), _rank(target, c)),
            default=None,
        )
        if best is None:
            missing = [e for e in ELEMENTS if e not in covered]
            raise MedmatError(
                f"cannot build a related arm for {target.describe()}: no training subset supplies "
                f"its {', '.join(missing)} (without being the target combination). Add subsets "
                "with that element to the lattice, or choose another target."
            )
        chosen.append(best)
        covered |= target.shared(best)
    return chosen


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
    budgets = {s.subset: 0 for s in picked}
    remaining = n_items
    # water-filling: equal shares, capped by what each subset holds
    while remaining:
        open_subsets = [s for s in picked if budgets[s.subset] < s.n_train]
        share = max(1, remaining // len(open_subsets))
        for s in open_subsets:
            take = min(share, s.n_train - budgets[s.subset], remaining)
            budgets[s.subset] += take
            remaining -= take
            if not remaining:
                break
    return Arm(name, {k: v for k, v in budgets.items() if v})


def plan_target(
    target: SubsetInfo,
    lattice: dict[str, SubsetInfo],
    arms: list[str | dict],
    *,
    budget_per_subset: int = 1000,
    target_items: int = 0,
    seed: int = 0,
    avoid: frozenset[str] = frozenset(),
) -> Plan:
    """Build the arms for one target; ``arms`` holds builtin names or explicit arm dicts."""
    if budget_per_subset < 1:
        raise MedmatError(f"budget_per_subset must be >= 1, got {budget_per_subset}")
    if target.n_test == 0:
        raise MedmatError(f"target {target.describe()} has no test split to evaluate on")
    related = related_subsets(target, lattice)
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
            pool = [s for s in lattice.values() if not target.shared(s) and s.n_train]
            arm = _size_matched("unrelated", pool, n_rel, seed, target, avoid)
            built.append(Arm("unrelated", arm.budgets, target_items))
        elif spec in ("only_modality", "only_area", "only_task"):
            element = spec.removeprefix("only_")
            pool = [
                s
                for s in lattice.values()
                if target.shared(s) == frozenset({element}) and s.n_train
            ]
            arm = _size_matched(spec, pool, n_rel, seed, target, avoid)
            built.append(Arm(spec, arm.budgets, target_items))
        elif spec == "target_trained":
            built.append(Arm("target_trained", {target.subset: min(n_rel, target.n_train)}))
        elif spec == "untrained":
            built.append(Arm("untrained", {}))
        else:
            raise MedmatError(
                f"unknown arm {spec!r}; use one of {BUILTIN_ARMS} or a dict "
                "{name, subsets: {subset: budget}, target_items}"
            )
    names = [a.name for a in built]
    if len(set(names)) != len(names):
        raise MedmatError(f"arm names must be unique, got {names}")
    plan = Plan(target, tuple(built))
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
    """Refuse arms that train on the target combination (other than the target_trained bound)."""
    t = plan.target
    for arm in plan.arms:
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
