"""The ``cls-det`` design: classification <-> detection transfer, both directions.

The Med-MAT study's seventh experiment trained a detection dataset together with a
classification dataset and found that each helps the other (cIoU +3.8 to +8.4). medmat plans it
on any set of subsets where detection/segmentation subsets carry boxes (the synthetic lab's
``detseg`` cells, or ingested masks), treating a detection subset as a MAT combination like any
other (its task is ``Detection/segmentation``). For a target (M, A, T):

* ``det_from_cls`` (T is detection): the helpers are classification subsets;
  ``cls_from_det`` (T is classification): the helpers are detection subsets;
* ``related`` trains the target's own training items plus every helper on the target's
  modality and area (M, A, other task kind), each up to the cap: the same images' domain, the
  other kind of task;
* ``unrelated`` trains the same target items plus the same number of helper items drawn from
  helpers sharing neither modality nor area with the target (a seeded, size-matched draw);
* ``target_trained`` trains the target items alone (the study's "single" arm) and
  ``untrained`` nothing.

The verdict metric is the target's own: cIoU for a detection target, accuracy for a
classification target (:mod:`medmat.experiment.summary`). ``related - unrelated`` isolates the
helper's relevance at equal size; ``related - target_trained`` is the study's "det + cls vs
single" gain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from medmat.errors import MedmatError
from medmat.splits import SubsetInfo
from medmat.study.planner import CatalogPlan, Source, size_matched

DETSEG = "Detection/segmentation"
DIRECTIONS = {True: "cls_from_det", False: "det_from_cls"}  # keyed by "target is classification"
# The default lab: both directions on X-ray / Brain (the detection cell and the classification
# cell of the same finding help each other), and helpers on MRI / Kidney and US / Bones, which
# share neither modality nor area with the targets (the unrelated arms). The experiment planner
# also wants every target's task supplied by another subset (mri-kidney-lesion for Lesion type,
# the MRI and US detection cells for detection), which these helpers do.
DEFAULT_LAB_TARGETS = ("xray-brain-detseg", "xray-brain-lesion")
DEFAULT_LAB_CELLS = (
    *DEFAULT_LAB_TARGETS,
    "mri-kidney-lesion", "us-bones-location",     # unrelated classification helpers
    "mri-kidney-detseg", "us-bones-detseg",       # unrelated detection helpers
)  # fmt: skip
COLUMNS = ("target", "target_mat", "direction", "target_items", "related", "related_items",
           "unrelated", "unrelated_items", "sizes", "experiment")  # fmt: skip


@dataclass(frozen=True)
class ClsDetCombination:
    """One cls-det experiment: a target, its helpers (related) and the size-matched control."""

    target: Source
    direction: str
    related: dict[str, int]
    unrelated: dict[str, int]
    target_items: int

    @property
    def name(self) -> str:
        return f"cls-det-{self.target.no}"


def _is_detection(s: Source | SubsetInfo) -> bool:
    return s.task == DETSEG


def plan_clsdet_on(plan: CatalogPlan, sources: Mapping[str, Source],
                   targets: Iterable[str] | None, lattice: Mapping[str, SubsetInfo], *,
                   seed: int = 0) -> CatalogPlan:
    """Add one cls-det experiment per target to ``plan`` (module docstring); a target without
    helpers on its modality and area, or without an unrelated control, goes to ``skipped``."""
    cap = plan.cap
    wanted = list(sources) if targets is None else [t.strip() for t in targets if t.strip()]
    for name in wanted:
        if name not in sources:
            why = "general-domain data" if name in lattice else "not a subset of the data"
            raise MedmatError(f"target {name!r}: {why}; subsets: {', '.join(sorted(sources))}")
        t = sources[name]
        if lattice[name].n_test == 0 or not t.n_train:
            plan.skipped[name] = "needs training and test items (the target trains every arm)"
            continue
        det = _is_detection(t)
        helpers = [s for s in sources.values()
                   if _is_detection(s) != det and (s.n_train or 0) >= min(cap, 1)]
        kind = "classification" if det else "detection"
        related = [s for s in helpers if s.modality == t.modality and s.area == t.area]
        if not related:
            plan.skipped[name] = f"no {kind} subset on {t.modality} / {t.area}"
            continue
        budgets = {s.no: s.capacity(cap) for s in sorted(related, key=lambda s: s.no)}
        pool = [s for s in helpers if s.modality != t.modality and s.area != t.area]
        unrelated = size_matched(pool, sum(budgets.values()), len(budgets), cap,
                                 f"{seed}|cls-det|{name}")
        if not unrelated:
            plan.skipped[name] = (f"the {kind} subsets sharing neither {t.modality} nor "
                                  f"{t.area} cannot supply {sum(budgets.values())} items")
            continue
        plan.clsdet.append(ClsDetCombination(t, DIRECTIONS[not det], budgets, unrelated,
                                             t.capacity(cap)))
    return plan


def _budgets(budgets: Mapping[str, int]) -> str:
    return " ".join(f"{s}:{n}" for s, n in sorted(budgets.items()))


def plan_rows(plan: CatalogPlan) -> list[dict[str, Any]]:
    sizes = "counted" if plan.sizes_known else "assumed"
    return [{"target": c.target.no, "target_mat": c.target.mat(), "direction": c.direction,
             "target_items": c.target_items, "related": _budgets(c.related),
             "related_items": sum(c.related.values()), "unrelated": _budgets(c.unrelated),
             "unrelated_items": sum(c.unrelated.values()), "sizes": sizes,
             "experiment": c.name} for c in plan.clsdet]  # fmt: skip


def summary_lines(plan: CatalogPlan) -> list[str]:
    n = {d: sum(c.direction == d for c in plan.clsdet) for d in DIRECTIONS.values()}
    return [f"- experiments: {len(plan.clsdet)} ({n['det_from_cls']} detection targets helped "
            f"by classification data, {n['cls_from_det']} classification targets helped by "
            "detection data); every trained arm includes the target's own training items",
            "- arms: related (target + helpers on its modality and area), unrelated (target + "
            "as many helper items sharing neither), target_trained (target alone), untrained"]


def experiment_configs(plan: CatalogPlan, common: Mapping[str, Any]) -> dict[str, dict]:
    """One config per combination with explicit arms (what runs is what plan.csv shows)."""
    out = {}
    for c in plan.clsdet:
        n = c.target_items
        out[c.name] = {"name": c.name, "targets": [c.target.no], "arms": [
            {"name": "related", "subsets": dict(sorted(c.related.items())), "target_items": n},
            {"name": "unrelated", "subsets": dict(sorted(c.unrelated.items())),
             "target_items": n},
            {"name": "target_trained", "target_items": n},
            "untrained"], **common}  # fmt: skip
    return out
