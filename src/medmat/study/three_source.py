"""The ``three-source`` design: each target element from a different subset.

The Med-MAT study's third experiment (7 of 9 succeed; e.g. CT-Kidney + MRI-Brain +
dermoscopy-Cancer -> CT-Brain-Cancer). For a target (M, A, T), a combination is three training
subsets that each share exactly one element with the target:

* ``source_a`` = (M, other area, other task) supplies the modality,
* ``source_b`` = (other modality, A, other task) the area,
* ``source_c`` = (other modality, other area, T) the task,

so no training subset shares two elements with the target (tasks compared exactly). Each
source trains up to the cap; ``unrelated`` gets the same total from subsets sharing no modality,
area or task kind with the target (a seeded, size-matched draw over at least three subsets), and
``untrained`` nothing. The rows, the "k of n" count and the Holm / Benjamini-Hochberg verdicts
are the pairwise design's (:mod:`medmat.study.aggregate`), and so is the forest plot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from medmat.splits import SubsetInfo
from medmat.study.planner import (
    CatalogPlan,
    Source,
    size_matched,
    training_pool,
    unrelated_pool,
)

DIRECTION = "three_source"
PRIMARY_RULE = "per target: the most training items (sources up to the cap), then the lowest " \
               "subset numbers"
# The default lab: two targets that share nothing, and three cells that each share one element
# with both of them (X-ray / Kidney / Abnormality, CT / Brain / Severity, MRI / Lung / Lesion);
# each target is unrelated to the other, and two more unrelated cells fill the control.
DEFAULT_LAB_TARGETS = ("xray-brain-lesion", "ct-lung-abnormal")
DEFAULT_LAB_CELLS = (*DEFAULT_LAB_TARGETS, "xray-kidney-abnormal", "ct-brain-severity",
                     "mri-lung-lesion", "us-bones-location", "fp-breast-severity",
                     "photo-scene-lesion")  # fmt: skip
COLUMNS = ("target", "target_mat", "direction", "fixed", "source_a", "source_a_mat", "source_b",
           "source_b_mat", "source_c", "source_c_mat", "task_match", "related_items",
           "unrelated", "unrelated_items", "primary", "sizes", "experiment")  # fmt: skip


@dataclass(frozen=True)
class Triple:
    target: Source
    a: Source
    b: Source
    c: Source
    related: dict[str, int]
    unrelated: dict[str, int]
    primary: bool = False

    @property
    def name(self) -> str:
        return f"three-source-{self.target.no}-{self.a.no}+{self.b.no}+{self.c.no}"


def _shares(s: Source, t: Source) -> tuple[bool, bool, bool]:
    return s.modality == t.modality, s.area == t.area, s.task == t.task


def plan_on(plan: CatalogPlan, sources: Mapping[str, Source],
            lattice: Mapping[str, SubsetInfo] | None, targets: Iterable[Source], *,
            seed: int = 0, test_only: Iterable[str] = ()) -> CatalogPlan:
    """Every three-source combination of each target (module docstring)."""
    del lattice, test_only
    cap = plan.cap
    for t in targets:
        pool = training_pool(sources, t, cap)
        a_s = [s for s in pool if _shares(s, t) == (True, False, False)]
        b_s = [s for s in pool if _shares(s, t) == (False, True, False)]
        c_s = [s for s in pool if _shares(s, t) == (False, False, True)]
        control = unrelated_pool(t, pool)
        found = []
        for a in a_s:
            for b in b_s:
                for c in c_s:
                    related = {s.no: s.capacity(cap) for s in (a, b, c)}
                    key = f"{seed}|{t.no}|three-source|{a.no}+{b.no}+{c.no}"
                    unrelated = size_matched(control, sum(related.values()), 3, cap, key)
                    if unrelated:
                        found.append(Triple(t, a, b, c, dict(sorted(related.items())),
                                            unrelated))
        if not found:
            missing = [e for e, got in (("modality", a_s), ("area", b_s), ("task", c_s))
                       if not got]  # fmt: skip
            plan.skipped[t.no] = (f"no training subset shares only its {' or '.join(missing)}"
                                  if missing else "no unrelated subsets of the same total size")
            continue
        found.sort(key=lambda x: (-sum(x.related.values()), x.a.no, x.b.no, x.c.no))
        plan.rows.extend([replace(found[0], primary=True), *found[1:]])
    return plan


def _budgets(budgets: Mapping[str, int]) -> str:
    return " ".join(f"{s}:{n}" for s, n in sorted(budgets.items()))


def plan_rows(plan: CatalogPlan) -> list[dict[str, Any]]:
    sizes = "counted" if plan.sizes_known else "assumed"
    return [{"target": r.target.no, "target_mat": r.target.mat(), "direction": DIRECTION,
             "fixed": "-", "source_a": r.a.no, "source_a_mat": r.a.mat(), "source_b": r.b.no,
             "source_b_mat": r.b.mat(), "source_c": r.c.no, "source_c_mat": r.c.mat(),
             "task_match": "-", "related_items": sum(r.related.values()),
             "unrelated": _budgets(r.unrelated), "unrelated_items": sum(r.unrelated.values()),
             "primary": r.primary, "sizes": sizes, "experiment": r.name}
            for r in plan.rows]  # fmt: skip


def summary_lines(plan: CatalogPlan) -> list[str]:
    n_primary = sum(r.primary for r in plan.rows)
    return [f"- combinations: {len(plan.rows)} ({n_primary} primary: {PRIMARY_RULE}); sources "
            "A, B and C supply the modality, the area and the task, each sharing only that "
            "element with the target"]  # fmt: skip


def experiment_configs(plan: CatalogPlan, common: Mapping[str, Any],
                       primary_only: bool = False) -> dict[str, dict]:
    from medmat.study.plan_output import cg_arms

    return {r.name: {"name": r.name, "targets": [r.target.no],
                     "arms": cg_arms(r.related, r.unrelated), **common}
            for r in plan.rows if r.primary or not primary_only}  # fmt: skip

