"""The grounding side of a target's summary: box metrics per arm, cIoU contrasts, learnability.

A target whose test items are grounding items (a true box each) is scored by cIoU, mIoU and
acc@0.5 (:mod:`medmat.evaluate.box_seeds`: two-level intervals over training seeds, then test
items, as the accuracy intervals). Its contrasts and verdicts use cIoU, the Med-MAT study's
detection metric; ``ArmResult.accuracy`` holds acc@0.5 so tables and plots that show an
accuracy still read a number with the same meaning as :attr:`Prediction.correct`. The target is
learnable when target_trained's cIoU lower bound lies above the whole-image box's cIoU (the
trivial answer), the box counterpart of "above chance".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from medmat import evaluate
from medmat.errors import MedmatError
from medmat.evaluate.box_seeds import (
    SeedBoxMetrics,
    seed_box_diff,
    seed_box_metrics,
    whole_image_ciou,
)
from medmat.evaluate.degenerate import Check
from medmat.evaluate.results import ArmResult, BoxArm, BoxDelta, BoxMetric, Contrast
from medmat.experiment.config import ExperimentConfig
from medmat.records import Prediction, QAItem
from medmat.report.box_figure import EXAMPLES_PER_TARGET, MAIN_ARMS, BoxExample
from medmat.splits import Arm, Plan

Runs = list[list[Prediction]]
VERDICT_METRIC = "ciou"


def is_grounding(target: str, arm_preds: Mapping[str, Runs]) -> bool:
    """True when every test item of the target has a true box; a mix is refused (a target is
    either classification or grounding: its verdict needs one metric)."""
    flags = {p.answer_box is not None for runs in arm_preds.values() for run in runs
             for p in run}
    if len(flags) > 1:
        raise MedmatError(f"target {target}: its test items mix classification and grounding "
                          "items; give the target one kind (a detection subset's records all "
                          "carry regions)")
    return flags == {True}


def box_arm(cfg: ExperimentConfig, arm: Arm, runs: Runs) -> tuple[ArmResult, SeedBoxMetrics]:
    """The arm's typed result: box metrics, with ``accuracy`` = acc@0.5 and its interval."""
    m = seed_box_metrics(runs, n_boot=cfg.bootstrap, seed=cfg.seeds[0], what=arm.name)
    acc = m.metrics["acc50"]
    spread = evaluate.seed_summary(list(acc.per_seed))
    metrics = {k: BoxMetric(value=v.estimate, ci95=v.ci95, per_seed=v.per_seed)
               for k, v in m.metrics.items()}
    result = ArmResult(
        name=arm.name, accuracy=acc.estimate, ci95=acc.ci95, n=m.n_items,
        n_correct=sum(p.correct for run in runs for p in run), no_answer=m.n_miss,
        confidence=m.confidence, n_seeds=m.n_seeds, ci_method=m.method,
        train_subsets=tuple(sorted(arm.budgets)), budgets=dict(sorted(arm.budgets.items())),
        target_items=arm.target_items, n_train=arm.n_train, per_seed=acc.per_seed,
        mean=spread.get("mean"), sd=spread.get("sd"), general=dict(sorted(arm.general.items())),
        boxes=BoxArm(**metrics, n_miss=m.n_miss, miss_per_seed=m.miss_per_seed,
                     threshold=m.threshold, method=m.method),
    )
    return result, m


def box_contrast(cfg: ExperimentConfig, a: str, b: str, arm_preds: Mapping[str, Runs]) -> Contrast:
    """``a - b`` on every box metric; the contrast's own numbers are cIoU's."""
    d = seed_box_diff(arm_preds[a], arm_preds[b], n_boot=cfg.bootstrap, seed=cfg.seeds[0],
                      names=(a, b))
    c = d[VERDICT_METRIC]
    return Contrast(
        name=f"{a}_minus_{b}", diff=c.diff, ci95=c.ci95, p_value=c.p_value, se=c.se,
        n=c.n_items, acc_a=c.a, acc_b=c.b, n_boot=c.n_boot, seed=c.seed,
        confidence=c.confidence, n_seeds=c.n_seeds, method=c.method, per_seed=c.per_seed,
        metric=VERDICT_METRIC,
        boxes={k: BoxDelta(diff=v.diff, ci95=v.ci95, p_value=v.p_value, a=v.a, b=v.b,
                           per_seed=v.per_seed) for k, v in d.items()},
    )


def baseline(runs: Sequence[Sequence[Prediction]]) -> float:
    """cIoU of the whole-image box on the target's test items (any arm's run will do)."""
    gold = [p.answer_box for p in sorted(runs[0], key=lambda p: p.item_id)]
    return whole_image_ciou(gold)  # type: ignore[arg-type]


def box_learnability(target_trained: SeedBoxMetrics, whole: float) -> Check:
    """Learnable when target_trained's cIoU lower bound lies above the whole-image box's."""
    check = evaluate.learnability(target_trained.metrics[VERDICT_METRIC], chance=whole,
                                  what="target_trained cIoU")
    return replace(check, reason=check.reason.replace(
        "chance", "the whole-image box's cIoU"))


def box_examples(plan: Plan, arm_preds: Mapping[str, Runs], items: Sequence[QAItem],
                 image_root: Path, k: int = EXAMPLES_PER_TARGET) -> list[BoxExample]:
    """The first ``k`` scored test items of a grounding target (by id) with each main arm's
    first-seed box, for boxes.png; [] for a classification target."""
    if not _has_boxes(arm_preds):
        return []
    first = {name: {p.item_id: p for p in runs[0]} for name, runs in arm_preds.items() if runs}
    scored = sorted(next(iter(first.values())))[:k]
    by_id = {it.id: it for it in items}
    label = f"{plan.target.subset}"
    return [BoxExample(target=label, item_id=i, image=Path(image_root) / by_id[i].image,
                       gold=first[next(iter(first))][i].answer_box,  # type: ignore[arg-type]
                       predicted={a: first[a][i].box for a in MAIN_ARMS if a in first})
            for i in scored]


def _has_boxes(arm_preds: Mapping[str, Runs]) -> bool:
    return any(p.answer_box is not None for runs in arm_preds.values() for run in runs[:1]
               for p in run[:1])
