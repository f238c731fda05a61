"""The ``efficiency`` design: accuracy against the amount of related and of target data.

The Med-MAT study's fifth experiment (curves only): related data from 0 to N items without
target data, and target data from 0 to M items on top of related vs unrelated data. For each
target, the related sources and the size-matched unrelated control are its primary pairwise
combination's (:mod:`medmat.study.planner`); one experiment holds every point as an arm:

* ``related_N``: N related items (spread evenly over the sources), no target items;
* ``related_target_M`` / ``unrelated_target_M``: all related (unrelated) items plus M target
  items; N and M run over ``points`` even steps up to ``related_max`` / ``target_max``
  (designs.yaml, capped by what the data has); ``untrained`` is the 0 point.

Each point carries the experiment's two-level interval. "Items to reach": the target items a
target curve needs to reach the threshold (stated in :data:`REACH_RULE`), by linear
interpolation between the two points around the first crossing of the mean curve.
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
from medmat.study.planner import CatalogPlan, Source, plan_pairwise_on, water_fill
from medmat.study.registry import load_designs
from medmat.study.results import EfficiencyCurve, EfficiencyPoint, EfficiencyTarget, StudyResult

REACH_RULE = ("threshold = untrained + {share}% of the way to the best mean accuracy of the two "
              "target curves; items = linear interpolation at the first crossing of the mean "
              "curve (None: never reached)")  # fmt: skip
CURVES = ("related", "related_target", "unrelated_target")
DEFAULT_LAB_TARGETS = ("xray-brain-lesion",)
DEFAULT_LAB_CELLS = ("xray-brain-lesion", "xray-brain-severity", "xray-breast-lesion",
                     "mri-kidney-abnormal", "us-bones-location", "photo-scene-lesion")  # fmt: skip
COLUMNS = ("target", "target_mat", "related", "unrelated", "related_points", "target_points",
           "sizes", "experiment")  # fmt: skip


@dataclass(frozen=True)
class EfficiencyPlan:
    target: Source
    related: dict[str, int]
    unrelated: dict[str, int]
    related_points: tuple[int, ...]
    target_points: tuple[int, ...]

    @property
    def name(self) -> str:
        return f"efficiency-{self.target.no}"


def _steps(top: int, points: int) -> tuple[int, ...]:
    return tuple(sorted({round(k * top / points) for k in range(points + 1)}))


def plan_on(plan: CatalogPlan, sources: Mapping[str, Source],
            lattice: Mapping[str, SubsetInfo] | None, targets: Iterable[Source], *,
            seed: int = 0, test_only: Iterable[str] = ()) -> CatalogPlan:
    del lattice, test_only
    params = load_designs().design("efficiency").params
    chosen = list(targets)
    pairs = plan_pairwise_on(CatalogPlan("pairwise", plan.cap, True), sources, chosen,
                             seed=seed, paired=set())  # fmt: skip
    for t in chosen:
        primary = next((c for c in pairs.combinations if c.target.no == t.no and c.primary),
                       None)  # fmt: skip
        if primary is None or not t.n_train:
            plan.skipped[t.no] = pairs.skipped.get(t.no, "no training items of its own")
            continue
        top_r = min(params["related_max"], sum(primary.related.values()))
        top_t = min(params["target_max"], t.capacity(plan.cap))
        plan.rows.append(EfficiencyPlan(t, primary.related, primary.unrelated,
                                        _steps(top_r, params["points"]),
                                        _steps(top_t, params["points"])))
    return plan


def _budgets(budgets: Mapping[str, int]) -> str:
    return " ".join(f"{s}:{n}" for s, n in sorted(budgets.items()))


def plan_rows(plan: CatalogPlan) -> list[dict[str, Any]]:
    sizes = "counted" if plan.sizes_known else "assumed"
    return [{"target": r.target.no, "target_mat": r.target.mat(), "related": _budgets(r.related),
             "unrelated": _budgets(r.unrelated),
             "related_points": " ".join(map(str, r.related_points)),
             "target_points": " ".join(map(str, r.target_points)), "sizes": sizes,
             "experiment": r.name} for r in plan.rows]  # fmt: skip


def summary_lines(plan: CatalogPlan) -> list[str]:
    return ["- one experiment per target: related_N (N related items, no target data), "
            "related_target_M and unrelated_target_M (all related / unrelated items plus M "
            "target items), untrained; sources: the target's primary pairwise combination"]


def experiment_configs(plan: CatalogPlan, common: Mapping[str, Any]) -> dict[str, dict]:
    out = {}
    for r in plan.rows:
        arms: list[Any] = ["untrained"]
        arms += [{"name": f"related_{n}", "subsets": water_fill(r.related, n)}
                 for n in r.related_points if n]  # fmt: skip
        for curve, subsets in (("related_target", r.related), ("unrelated_target", r.unrelated)):
            arms += [{"name": f"{curve}_{m}", "subsets": dict(subsets), "target_items": m}
                     for m in r.target_points]  # fmt: skip
        out[r.name] = {"name": r.name, "targets": [r.target.no], "arms": arms, **common}
    return out


def reach(curve: EfficiencyCurve, threshold: float) -> float | None:
    """Interpolated items at the first crossing of ``threshold`` (see REACH_RULE)."""
    pts = [(p.items, p.accuracy.value) for p in curve.points if p.accuracy.value is not None]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
        if y0 >= threshold:
            return float(x0)
        if y1 >= threshold:
            return x0 + (threshold - y0) * (x1 - x0) / (y1 - y0)
    return float(pts[-1][0]) if pts and pts[-1][1] >= threshold else None


def study_fields(plan_dir: Path, results: Mapping[str, ExperimentResult],
                 rows: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    share = load_designs().design("efficiency").params["reach_share_pct"]
    out = []
    for name, result in results.items():
        t = result.targets[0]
        if "untrained" not in t.arms:
            raise MedmatError(f"experiment {name}: no untrained arm; replan with --force")
        zero = EfficiencyPoint(items=0, arm="untrained",
                               accuracy=arm_stats.estimate(t.arms["untrained"]))
        curves = []
        for curve in CURVES:
            pts = [EfficiencyPoint(items=int(a.rsplit("_", 1)[1]), arm=a,
                                   accuracy=arm_stats.estimate(t.arms[a]))
                   for a in t.arms if a.rsplit("_", 1)[0] == curve]  # fmt: skip
            pts.sort(key=lambda p: p.items)
            curves.append(EfficiencyCurve(name=curve, points=tuple(
                [zero, *pts] if curve == "related" else pts)))
        base = zero.accuracy.value or 0.0
        best = max((p.accuracy.value or 0.0) for c in curves[1:] for p in c.points)
        threshold = base + share / 100 * (best - base)
        out.append(EfficiencyTarget(
            experiment=name, target=t.target, curves=tuple(curves), threshold=threshold,
            reach={c.name: reach(c, threshold) for c in curves[1:]},
            reach_rule=REACH_RULE.format(share=share)))  # fmt: skip
    return {"efficiency": tuple(out)}


def markdown(result: StudyResult) -> list[str]:
    from medmat.study.report import _acc

    lines = ["- accuracy per point with two-level bootstrap intervals (training seeds, then "
             "test items); curves in efficiency.png", ""]
    for e in result.efficiency:
        t = e.target
        lines += [f"## {t.subset} ({t.modality} / {t.area} / {t.task})", "",
                  "| curve | items | arm | accuracy [95% CI] |", "|---|---|---|---|"]
        lines += [f"| {c.name} | {p.items} | {p.arm} | {_acc(p.accuracy)} |"
                  for c in e.curves for p in c.points]  # fmt: skip
        lines += ["", f"Target items needed to reach {100 * e.threshold:.1f}% ({e.reach_rule}):",
                  ""]  # fmt: skip
        lines += [f"- {k}: " + ("not reached" if v is None else f"{v:.1f}")
                  for k, v in e.reach.items()]  # fmt: skip
        lines.append("")
    return [*lines, "![efficiency](efficiency.png)"]


def figures(result: StudyResult) -> dict[str, bytes]:
    from medmat.report.plots import new_figure, plot_style, png_bytes

    rows = list(result.efficiency)
    with plot_style():
        fig = new_figure(9.0, 3.2 * max(len(rows), 1))
        for i, e in enumerate(rows):
            for j, names in enumerate((("related",), ("related_target", "unrelated_target"))):
                ax = fig.add_subplot(len(rows), 2, 2 * i + j + 1)
                for c in (c for c in e.curves if c.name in names):
                    xs = [p.items for p in c.points]
                    ys = [100 * (p.accuracy.value or 0) for p in c.points]
                    lo = [100 * p.accuracy.ci95[0] if p.accuracy.ci95 else y
                          for p, y in zip(c.points, ys, strict=True)]  # fmt: skip
                    hi = [100 * p.accuracy.ci95[1] if p.accuracy.ci95 else y
                          for p, y in zip(c.points, ys, strict=True)]  # fmt: skip
                    line = ax.plot(xs, ys, marker="o", label=c.name)[0]
                    ax.fill_between(xs, lo, hi, alpha=0.2, color=line.get_color())
                if j == 1:
                    ax.axhline(100 * e.threshold, color="#333", linestyle="--", linewidth=0.8)
                ax.set_xlabel("related items" if j == 0 else "target items on top")
                ax.set_ylabel("accuracy (%)")
                ax.set_title(e.target.subset, fontsize=9)
                ax.legend(fontsize=7)
        fig.tight_layout()
        return {"efficiency.png": png_bytes(fig)}
