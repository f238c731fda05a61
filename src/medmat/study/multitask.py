"""The ``multitask`` design: single-task vs multi-task vs the untrained baseline.

The Med-MAT study's first experiment: on each in-distribution subset (one that can supply the
training cap), a model trained on that subset alone (``single_task``) against one trained on
every training subset (``multi_task``) and the untrained model; on each out-of-distribution
subset (test-only: it never trains), the multi-task model against the untrained one. The study
reported means over the subsets (baseline / single / multi 29.6 / 53.1 / 79.8 in-distribution,
OOD 30.5 -> 45.3); here each mean carries a two-level interval and each subset its own row.

One experiment per target: ``single_task`` trains the target's items (``target_items``),
``multi_task`` every other training subset up to the cap plus the target's items (an
in-distribution target) or every training subset (an OOD target). Subsets are test-only when
they cannot supply the cap, or when named (``test_only``; the lab's cells all have one size).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medmat.errors import MedmatError
from medmat.evaluate.results import ExperimentResult
from medmat.splits import SubsetInfo
from medmat.study import arm_stats
from medmat.study.planner import CatalogPlan, Source
from medmat.study.results import MultitaskMean, MultitaskResult, MultitaskSubset, StudyResult

ID, OOD = "in-distribution", "out-of-distribution"
# The default lab: four in-distribution cells whose elements recombine into the two test-only
# cells (X-ray and CT, Brain and Lung, Lesion type and Abnormality), and the photo cell.
DEFAULT_LAB_TEST_ONLY = ("xray-lung-lesion", "ct-brain-lesion")
DEFAULT_LAB_TARGETS = ("xray-brain-lesion", "ct-lung-lesion", "xray-lung-abnormal",
                       "ct-brain-abnormal", *DEFAULT_LAB_TEST_ONLY)  # fmt: skip
DEFAULT_LAB_CELLS = (*DEFAULT_LAB_TARGETS, "photo-scene-lesion")
COLUMNS = ("target", "target_mat", "role", "single_task_items", "multi_task", "multi_task_items",
           "sizes", "experiment")  # fmt: skip


@dataclass(frozen=True)
class MultitaskTarget:
    target: Source
    role: str
    single: int  # the target's training items (0: out-of-distribution, no single-task arm)
    multi: dict[str, int]  # the other training subsets of the multi-task arm

    @property
    def name(self) -> str:
        return f"multitask-{self.target.no}"


def plan_on(plan: CatalogPlan, sources: Mapping[str, Source],
            lattice: Mapping[str, SubsetInfo] | None, targets: Iterable[Source], *,
            seed: int = 0, test_only: Iterable[str] = ()) -> CatalogPlan:
    """One experiment per target (module docstring); ``seed`` is unused (no draw)."""
    del seed, lattice
    cap, named = plan.cap, set(test_only)
    unknown = sorted(named - set(sources))
    if unknown:
        raise MedmatError(f"--test-only {','.join(unknown)}: not subsets of the data; subsets: "
                          f"{', '.join(sorted(sources))}")  # fmt: skip
    pool = [s for s in sources.values() if s.can_train(cap) and s.no not in named]
    if len(pool) < 2:
        raise MedmatError(f"multitask: {len(pool)} subset(s) can train (cap {cap}); the "
                          "multi-task arm needs at least two: lower --cap or name fewer "
                          "--test-only subsets")  # fmt: skip
    for t in targets:
        trains = t in pool
        multi = {s.no: s.capacity(cap) for s in pool if s.triplet != t.triplet}
        plan.rows.append(MultitaskTarget(t, ID if trains else OOD, t.capacity(cap) if trains
                                         else 0, dict(sorted(multi.items()))))
    return plan


def _budgets(budgets: Mapping[str, int]) -> str:
    return " ".join(f"{s}:{n}" for s, n in sorted(budgets.items()))


def plan_rows(plan: CatalogPlan) -> list[dict[str, Any]]:
    sizes = "counted" if plan.sizes_known else "assumed"
    return [{"target": r.target.no, "target_mat": r.target.mat(), "role": r.role,
             "single_task_items": r.single, "multi_task": _budgets(r.multi),
             "multi_task_items": sum(r.multi.values()) + r.single, "sizes": sizes,
             "experiment": r.name} for r in plan.rows]  # fmt: skip


def summary_lines(plan: CatalogPlan) -> list[str]:
    n_id = sum(r.role == ID for r in plan.rows)
    return [f"- experiments: {len(plan.rows)} ({n_id} in-distribution targets with arms "
            f"untrained / single_task / multi_task, {len(plan.rows) - n_id} out-of-distribution "
            "(test-only) targets with untrained / multi_task)"]


def experiment_configs(plan: CatalogPlan, common: Mapping[str, Any]) -> dict[str, dict]:
    out = {}
    for r in plan.rows:
        arms: list[Any] = ["untrained"]
        if r.single:
            arms.append({"name": "single_task", "target_items": r.single})
        arms.append({"name": "multi_task", "subsets": dict(r.multi), "target_items": r.single})
        out[r.name] = {"name": r.name, "targets": [r.target.no], "arms": arms, **common}
    return out


def study_fields(plan_dir: Path, results: Mapping[str, ExperimentResult],
                 rows: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """The StudyResult's ``multitask`` section: one row per subset, the means per role."""
    subsets, runs = [], {}
    for name, result in results.items():
        role = rows.get(name, {}).get("role", "")
        if role not in (ID, OOD):
            raise MedmatError(f"{plan_dir / 'plan.csv'}: no role for experiment {name}; replan "
                              "with `medmat study multitask ... --force`")  # fmt: skip
        t, boot, seed = result.targets[0], arm_stats.n_boot(result), result.seeds[0]
        names = ("untrained", "multi_task") + (("single_task",) if role == ID else ())
        missing = [a for a in names if a not in t.arms]
        if missing:
            raise MedmatError(f"experiment {name}: no arm(s) {missing}; replan")
        got = {a: arm_stats.arm_runs(plan_dir / "runs" / name, result, a) for a in names}
        runs[name] = got

        def diff(a: str, b: str, got: dict = got, boot: int = boot, seed: int = seed):
            return arm_stats.paired(got[a], got[b], boot=boot, seed=seed, names=(a, b))

        subsets.append(MultitaskSubset(
            experiment=name, target=t.target, role=role, n_items=t.arms["untrained"].n,
            untrained=arm_stats.estimate(t.arms["untrained"]),
            single_task=arm_stats.estimate(t.arms["single_task"]) if role == ID else None,
            multi_task=arm_stats.estimate(t.arms["multi_task"]),
            multi_minus_single=diff("multi_task", "single_task") if role == ID else None,
            multi_minus_untrained=diff("multi_task", "untrained")))  # fmt: skip
    first = next(iter(results.values()))
    boot, seed = arm_stats.n_boot(first), first.seeds[0]
    means = []
    for role in (ID, OOD):
        members = [s.experiment for s in subsets if s.role == role]
        if not members:
            continue

        def pool(arm: str, members: list = members) -> list:
            return [runs[m][arm] for m in members]

        single = role == ID
        means.append(MultitaskMean(
            role=role, n_subsets=len(members),
            untrained=arm_stats.pooled_accuracy(pool("untrained"), boot=boot, seed=seed),
            single_task=arm_stats.pooled_accuracy(pool("single_task"), boot=boot, seed=seed)
            if single else None,
            multi_task=arm_stats.pooled_accuracy(pool("multi_task"), boot=boot, seed=seed),
            multi_minus_single=arm_stats.pooled_diff(pool("multi_task"), pool("single_task"),
                                                     boot=boot, seed=seed) if single else None,
            multi_minus_untrained=arm_stats.pooled_diff(pool("multi_task"), pool("untrained"),
                                                        boot=boot, seed=seed)))  # fmt: skip
    return {"multitask": MultitaskResult(subsets=tuple(subsets), means=tuple(means),
                                         mean_rule=arm_stats.POOLED_RULE)}


def markdown(result: StudyResult) -> list[str]:
    from medmat.study.report import _acc, _diff

    m = result.multitask
    if m is None:
        return []
    lines = ["- the study's table shape: untrained (baseline) / single-task / multi-task "
             "accuracy per subset and the means per role; out-of-distribution subsets never "
             "train (no single-task arm); intervals: two-level bootstrap (training seeds, then "
             f"test items); {m.mean_rule}", "", "## Means", "",
             "| subsets | n | baseline (untrained) | single-task | multi-task | multi - single "
             "[95% CI] | multi - baseline [95% CI] |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for row in m.means:
        lines.append(f"| {row.role} | {row.n_subsets} | {_acc(row.untrained)} | "
                     f"{_acc(row.single_task)} | {_acc(row.multi_task)} | "
                     f"{_diff(row.multi_minus_single)} | {_diff(row.multi_minus_untrained)} |")
    lines += ["", "## Per subset", "",
              "| subset | role | baseline (untrained) | single-task | multi-task | multi - single "
              "[95% CI] | multi - baseline [95% CI] |", "|---|---|---|---|---|---|---|"]
    for s in m.subsets:
        t = s.target
        lines.append(f"| {t.subset} ({t.modality} / {t.area} / {t.task}) | {s.role} | "
                     f"{_acc(s.untrained)} | {_acc(s.single_task)} | {_acc(s.multi_task)} | "
                     f"{_diff(s.multi_minus_single)} | {_diff(s.multi_minus_untrained)} |")
    return lines


def figures(result: StudyResult) -> dict[str, bytes]:
    return {}
