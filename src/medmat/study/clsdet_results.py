"""A cls-det experiment's numbers in the study's results, and the study report's tables.

Every number comes from the experiment's own typed results (two-level intervals over training
seeds, then test items): a detection target's metric is cIoU (its arms' ``boxes``; accuracy is
acc@0.5), a classification target's is accuracy. Nothing is re-estimated here.
"""

from __future__ import annotations

from medmat.errors import MedmatError
from medmat.evaluate.results import ArmResult, Contrast, ExperimentResult
from medmat.study.results import ClsDetArm, ClsDetResult, Estimate, StudyResult

ARMS = ("untrained", "unrelated", "related", "target_trained")


def _metric(arm: ArmResult) -> Estimate:
    if arm.boxes is not None:
        c = arm.boxes.ciou
        return Estimate(value=c.value, ci95=c.ci95, per_seed=c.per_seed)
    return Estimate(value=arm.accuracy, ci95=arm.ci95, per_seed=arm.per_seed)


def _diff(c: Contrast | None) -> Estimate | None:
    return None if c is None else Estimate(value=c.diff, ci95=c.ci95, per_seed=c.per_seed)


def clsdet_result(name: str, direction: str, result: ExperimentResult) -> ClsDetResult:
    """One experiment of a cls-det plan (its plan row gives the direction)."""
    t = result.targets[0]
    missing = [a for a in ARMS if a not in t.arms]
    if missing:
        raise MedmatError(f"experiment {name}: no arm(s) {missing} in its metrics.json; a "
                          "cls-det config needs related, unrelated, target_trained and "
                          "untrained: replan with `medmat study cls-det ... --force`")  # fmt: skip
    arms = tuple(
        ClsDetArm(name=a, n_train=t.arms[a].n_train, metric=_metric(t.arms[a]),
                  accuracy=Estimate(value=t.arms[a].accuracy, ci95=t.arms[a].ci95,
                                    per_seed=t.arms[a].per_seed),
                  n_miss=t.arms[a].boxes.n_miss if t.arms[a].boxes is not None else None)
        for a in ARMS
    )
    gain = t.diffs.get("related_minus_unrelated")
    single = t.diffs.get("target_trained_minus_related")
    over = None
    if single is not None:  # the runner computes target_trained - related; flip it
        over = Estimate(value=None if single.diff is None else -single.diff,
                        ci95=None if single.ci95 is None else (-single.ci95[1], -single.ci95[0]),
                        per_seed=tuple(-v for v in single.per_seed))
    return ClsDetResult(
        experiment=name, target=t.target, direction=direction,
        metric="ciou" if t.is_grounding else "accuracy", arms=arms, gain=_diff(gain),
        gain_p=None if gain is None else gain.p_value, over_single=over,
        over_single_p=None if single is None else single.p_value,
        verdict=next((v.verdict for v in t.verdicts if v.question == "related vs unrelated"), ""),
        whole_image_ciou=t.whole_image_ciou,
    )


def _est(e: Estimate | None, signed: bool = False) -> str:
    if e is None or e.value is None:
        return "-"
    value = f"{100 * e.value:+.1f}" if signed else f"{100 * e.value:.1f}%"
    if e.ci95 is None:
        return value
    fmt = "{:+.1f}" if signed else "{:.1f}"
    return f"{value} [{fmt.format(100 * e.ci95[0])}, {fmt.format(100 * e.ci95[1])}]"


def clsdet_markdown(result: StudyResult) -> list[str]:
    lines = ["- one row per experiment; a detection target is scored by cIoU (sum of "
             "intersections over sum of unions; acc@0.5 beside it), a classification target by "
             "accuracy; intervals: two-level bootstrap over training seeds, then test items",
             "- gain = related - unrelated (helpers of the other task kind on the target's "
             "modality and area vs as many helper items sharing neither), paired on the same "
             "test items; over single = related - target_trained (the study's det+cls vs "
             "single)", "",
             "| target | direction | metric | untrained | unrelated | related | target_trained | "
             "gain [95% CI] | p | over single [95% CI] | verdict | whole-image box cIoU |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for c in result.clsdet:
        arm = {a.name: a for a in c.arms}
        cells = [_est(arm[a].metric) for a in ARMS]
        whole = "-" if c.whole_image_ciou is None else f"{100 * c.whole_image_ciou:.1f}%"
        p = "-" if c.gain_p is None else f"{c.gain_p:.4f}"
        lines.append(f"| {c.target.subset} | {c.direction} | {c.metric} | {' | '.join(cells)} | "
                     f"{_est(c.gain, True)} | {p} | {_est(c.over_single, True)} | "
                     f"{c.verdict.split(':', 1)[0]} | {whole} |")  # fmt: skip
    det = [c for c in result.clsdet if c.metric == "ciou"]
    if det:
        lines += ["", "Detection targets' accuracy at IoU >= 0.5 and misses:", "",
                  "| target | " + " | ".join(ARMS) + " |", "|---|---|---|---|---|"]
        for c in det:
            arm = {a.name: a for a in c.arms}
            lines.append(f"| {c.target.subset} | " + " | ".join(
                f"{_est(arm[a].accuracy)} ({arm[a].n_miss} misses)" for a in ARMS) + " |")
    lines += ["", "Each experiment's own report (with boxes.png for detection targets) is in "
              "`runs/NAME/report.md`."]  # fmt: skip
    return lines
