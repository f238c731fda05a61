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

Its 95% interval (:data:`REACH_CI_RULE`, :func:`reach_intervals`) is the experiments' own
two-level bootstrap (:func:`medmat.evaluate.seeds.replicate_sums`, the experiment's ``bootstrap``
replicates and its first seed as the bootstrap seed, so a rerun gives the same interval): each
replicate draws every arm's training seeds (per arm: arms train on different data), then the test
items once for all arms (they answer the target's same test items: a paired draw), and recomputes
every point's accuracy, the threshold and each target curve's interpolated items. The interval
is the 2.5th and 97.5th percentiles over replicates, where a replicate whose curve never reaches
the threshold counts as "not reached" (above every reached value); a bound that falls among
those is None, and the share of such replicates is reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medmat.errors import MedmatError
from medmat.evaluate.results import ExperimentResult
from medmat.evaluate.seeds import correct_table, replicate_sums
from medmat.splits import SubsetInfo
from medmat.study import arm_stats
from medmat.study.planner import CatalogPlan, Source, plan_pairwise_on, water_fill
from medmat.study.registry import load_designs
from medmat.study.results import EfficiencyCurve, EfficiencyPoint, EfficiencyTarget, StudyResult

REACH_RULE = ("threshold = untrained + {share}% of the way to the best mean accuracy of the two "
              "target curves; items = linear interpolation at the first crossing of the mean "
              "curve (None: never reached)")  # fmt: skip
REACH_CI_RULE = ("95% percentile interval over {n_boot} two-level bootstrap replicates (seed "
                 "{seed}): training seeds drawn per arm, then the test items drawn once for every "
                 "arm (paired); each replicate recomputes every point, the threshold and the "
                 "interpolated items; replicates that never reach count as not reached, and a "
                 "bound among them is None")  # fmt: skip
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


@dataclass(frozen=True)
class ReachInterval:
    """Percentile interval of one curve's items to reach (a None bound: not reached)."""

    ci95: tuple[float | None, float | None]
    not_reached: float  # share of bootstrap replicates whose curve never reaches the threshold


def _threshold(base: Any, best: Any, share: float) -> Any:
    return base + share / 100 * (best - base)


def first_crossing(xs: np.ndarray, ys: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Items at the first crossing of ``thresholds[r]`` by row ``ys[r]`` (curves x points, the
    points at increasing ``xs``), linearly interpolated from the point before; NaN: never."""
    above = ys >= thresholds[:, None]
    j = above.argmax(axis=1)  # first point at or above the threshold (0 when none is)
    prev, rows = np.maximum(j - 1, 0), np.arange(len(ys))
    y0, y1 = ys[rows, prev], ys[rows, j]
    with np.errstate(divide="ignore", invalid="ignore"):  # j == 0 rows divide 0 by 0, unused
        interp = xs[prev] + (thresholds - y0) * (xs[j] - xs[prev]) / (y1 - y0)
    return np.where(above.any(axis=1), np.where(j == 0, xs[0], interp), np.nan)


def reach(curve: EfficiencyCurve, threshold: float) -> float | None:
    """Interpolated items at the first crossing of ``threshold`` (see REACH_RULE)."""
    pts = [(p.items, p.accuracy.value) for p in curve.points if p.accuracy.value is not None]
    if not pts:
        return None
    xs, ys = (np.array(v, dtype=np.float64) for v in zip(*pts, strict=True))
    got = first_crossing(xs, ys[None, :], np.array([threshold]))[0]
    return None if np.isnan(got) else float(got)


def reach_intervals(untrained: np.ndarray, curves: Mapping[str, Iterable[tuple[int, np.ndarray]]],
                    share: float, *, n_boot: int, seed: int) -> dict[str, ReachInterval]:
    """Bootstrap intervals of each target curve's items to reach (see REACH_CI_RULE).

    ``untrained`` and every point's table are seeds x items correctness over the same test
    items in the same column order; ``curves`` maps a target curve to its (items, table) points.
    """
    pts = {c: sorted(p, key=lambda p: p[0]) for c, p in curves.items()}
    tables = [untrained, *(t for p in pts.values() for _, t in p)]
    n_items = {np.shape(t)[-1] for t in tables}
    if len(n_items) != 1:
        raise MedmatError(f"efficiency: the arms answered different numbers of test items "
                          f"({sorted(n_items)}); every arm must answer the target's test set")
    sums = replicate_sums([np.asarray(t, dtype=np.float64)[:, None, :] for t in tables],
                          n_boot, seed)  # fmt: skip
    acc = np.hstack(sums) / n_items.pop()  # replicates x (untrained, every point in order)
    thresholds = _threshold(acc[:, 0], acc[:, 1:].max(axis=1), share)
    out, col = {}, 1
    for name, p in pts.items():
        xs = np.array([x for x, _ in p], dtype=np.float64)
        got = first_crossing(xs, acc[:, col:col + len(xs)], thresholds)
        col += len(xs)
        never = np.isnan(got)
        # never-reached replicates rank above every reachable value (at most xs[-1])
        lo, hi = np.quantile(np.where(never, xs[-1] + 1.0, got), [0.025, 0.975])
        out[name] = ReachInterval(
            ci95=tuple(None if b > xs[-1] else float(b) for b in (lo, hi)),  # type: ignore[arg-type]
            not_reached=float(never.mean()))  # fmt: skip
    return out


def _arm_table(run_dir: Path, result: ExperimentResult, arm: str,
               ids: list[int] | None = None) -> tuple[list[int], np.ndarray]:
    """(item ids, seeds x items correctness) of one arm, in the column order ``ids``."""
    return correct_table(arm_stats.arm_runs(run_dir, result, arm), item_ids=ids,
                         what=f"{run_dir.name}: {arm}")  # fmt: skip


def study_fields(plan_dir: Path, results: Mapping[str, ExperimentResult],
                 rows: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    share = load_designs().design("efficiency").params["reach_share_pct"]
    out = []
    for name, result in results.items():
        t = result.targets[0]
        if "untrained" not in t.arms:
            raise MedmatError(f"experiment {name}: no untrained arm; replan with --force")
        run_dir, n_boot, seed = plan_dir / "runs" / name, arm_stats.n_boot(result), result.seeds[0]
        ids, base_table = _arm_table(run_dir, result, "untrained")
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
        threshold = _threshold(base, best, share)
        points = {c.name: [(p.items, _arm_table(run_dir, result, p.arm, ids)[1])
                           for p in c.points] for c in curves[1:]}  # fmt: skip
        cis = reach_intervals(base_table, points, share, n_boot=n_boot, seed=seed)
        out.append(EfficiencyTarget(
            experiment=name, target=t.target, curves=tuple(curves), threshold=threshold,
            reach={c.name: reach(c, threshold) for c in curves[1:]},
            reach_rule=REACH_RULE.format(share=share),
            reach_ci95={c: r.ci95 for c, r in cis.items()},
            reach_not_reached={c: r.not_reached for c, r in cis.items()},
            reach_ci_rule=REACH_CI_RULE.format(n_boot=n_boot, seed=seed)))  # fmt: skip
    return {"efficiency": tuple(out)}


def _items(v: float | None) -> str:
    return "not reached" if v is None else f"{v:.1f}"


def _reach_text(e: EfficiencyTarget, curve: str) -> str:
    """``412.5 [250.0, 700.0] items (not reached in 3% of resamples)``."""
    text = _items(e.reach[curve])
    ci = e.reach_ci95.get(curve)
    if ci is None:  # a metrics file written before the intervals
        return text
    text += f" [{_items(ci[0])}, {_items(ci[1])}] items"
    share = e.reach_not_reached.get(curve, 0.0)
    return text + (f" (not reached in {100 * share:.0f}% of resamples)" if share else "")


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
        lines += [f"- {k}: {_reach_text(e, k)}" for k in e.reach]
        if e.reach_ci_rule:
            lines += ["", f"Intervals: {e.reach_ci_rule}."]
        lines.append("")
    return [*lines, "![efficiency](efficiency.png)"]


def _reach_bar(ax: Any, e: EfficiencyTarget, c: EfficiencyCurve, color: str) -> None:
    """The items-to-reach interval as a horizontal bar on the threshold line; an open upper
    bound (not reached) runs to the curve's last point and ends in an arrow head."""
    ci, v = e.reach_ci95.get(c.name), e.reach.get(c.name)
    if ci is None or ci[0] is None:
        return
    y, top = 100 * e.threshold, float(c.points[-1].items)
    hi = top if ci[1] is None else ci[1]
    ax.plot([ci[0], hi], [y, y], color=color, linewidth=2.5, alpha=0.8, solid_capstyle="butt")
    if ci[1] is None:
        ax.plot([hi], [y], marker=">", color=color)
    if v is not None:
        ax.plot([v], [y], marker="|", markersize=10, color=color)


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
                        _reach_bar(ax, e, c, line.get_color())
                if j == 1:
                    ax.axhline(100 * e.threshold, color="#333", linestyle="--", linewidth=0.8)
                ax.set_xlabel("related items" if j == 0 else "target items on top")
                ax.set_ylabel("accuracy (%)")
                ax.set_title(e.target.subset, fontsize=9)
                ax.legend(fontsize=7)
        fig.tight_layout()
        return {"efficiency.png": png_bytes(fig)}
