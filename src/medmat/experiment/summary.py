"""Predictions of every arm -> the typed results of one target (:mod:`medmat.evaluate.results`).

Every interval includes training-seed variance (:func:`medmat.evaluate.seed_accuracy` and
:func:`~medmat.evaluate.seed_diff`: a two-level bootstrap over seeds, then test items). Every
arm is checked for degenerate answers (one answer text on >= 95% of items; the same answers with
the images shuffled among the items), the target for learnability (target_trained's lower bound
above chance), and three questions get a verdict that respects those flags:

- related vs unrelated (the study's contrast);
- related vs its best single component (``only_*`` and ``component_*`` arms, when run):
  related above it is recombination, not transfer from one source. The best component is chosen
  after seeing the results, which makes a "recombination" verdict harder to reach (conservative);
- related vs ``only_task`` (beyond knowing the task's labels).

A grounding target (every test item has a true box) is scored by cIoU, mIoU and acc@0.5 and
its contrasts and verdicts use cIoU (:mod:`medmat.experiment.summary_boxes`); the answer-text
checks do not apply to boxes, and learnability is judged against the whole-image box.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from medmat import evaluate
from medmat.evaluate.degenerate import CG_GAIN, NEGATIVE, Check
from medmat.evaluate.results import (
    ArmResult,
    Cell,
    Contrast,
    Flag,
    LetterBias,
    TargetResult,
    Verdict,
)
from medmat.evaluate.seeds import SeedAccuracy
from medmat.experiment import summary_boxes as sb
from medmat.experiment.config import ExperimentConfig
from medmat.records import Prediction
from medmat.splits import Plan

COMPONENT_PREFIXES = ("only_", "component_")
Runs = list[list[Prediction]]


def _wanted_contrasts(names: list[str]) -> list[tuple[str, str]]:
    """related - unrelated (the study's), every arm - untrained, target_trained - every arm."""
    return [
        (a, b)
        for a in names
        for b in names
        if a != b
        and ((a, b) == ("related", "unrelated") or b == "untrained" or a == "target_trained")
    ]


def _flag(check: Check) -> Flag:
    return Flag(check=check.check, flagged=check.flagged, share=check.share,
                threshold=check.threshold, reason=check.reason, per_seed=check.per_seed)


def _arm_checks(name: str, runs: Runs, shuffled: list[list[Prediction] | None],
                options: Mapping[int, Sequence[str]]) -> list[Check]:
    checks = [evaluate.constant_answer(runs, options, what=name)]
    if all(s is not None for s in shuffled):
        checks.append(evaluate.image_independence(runs, shuffled, options, what=name))
    return checks


def _contrast(cfg: ExperimentConfig, a: str, b: str, arm_preds: Mapping[str, Runs]) -> Contrast:
    d = evaluate.seed_diff(arm_preds[a], arm_preds[b], n_boot=cfg.bootstrap, seed=cfg.seeds[0],
                           names=(a, b))
    name = f"{a}_minus_{b}"
    return Contrast(name=name, diff=d.estimate, ci95=d.ci95, p_value=d.p_value, se=d.se,
                    n=d.n_items, acc_a=d.acc_a, acc_b=d.acc_b, n_boot=d.n_boot, seed=d.seed,
                    confidence=d.confidence, n_seeds=d.n_seeds, method=d.method,
                    per_seed=d.per_seed, per_seed_a=d.per_seed_a, per_seed_b=d.per_seed_b)


def summarise_target(
    cfg: ExperimentConfig,
    plan: Plan,
    arm_preds: dict[str, Runs],
    dropped: int,
    shuffled: Mapping[str, list[list[Prediction] | None]] | None = None,
    options: Mapping[int, Sequence[str]] | None = None,
) -> TargetResult:
    """The typed result of one target. ``shuffled`` (arm -> one shuffled-image run per seed)
    and ``options`` (test item id -> option texts) enable the degenerate-model checks."""
    t = plan.target
    arms: dict[str, ArmResult] = {}
    acc_of: dict[str, SeedAccuracy] = {}
    checks: dict[str, list[Check]] = {}
    if sb.is_grounding(t.subset, arm_preds):
        return _grounding_target(cfg, plan, arm_preds, dropped)
    for arm in plan.arms:
        runs = arm_preds[arm.name]
        pooled = [p for run in runs for p in run]
        acc = evaluate.seed_accuracy(runs, n_boot=cfg.bootstrap, seed=cfg.seeds[0], what=arm.name)
        acc_of[arm.name] = acc
        counts = evaluate.accuracy(pooled)
        spread = evaluate.seed_summary(list(acc.per_seed))
        checks[arm.name] = ([] if options is None else
                            _arm_checks(arm.name, runs, (shuffled or {}).get(
                                arm.name, [None] * len(runs)), options))
        arms[arm.name] = ArmResult(
            name=arm.name, accuracy=acc.estimate, ci95=acc.ci95, n=len(runs[0]),
            n_correct=counts.n_correct, no_answer=counts.no_answer, chance=acc.chance,
            confidence=acc.confidence, n_seeds=acc.n_seeds, ci_method=acc.method,
            train_subsets=tuple(sorted(arm.budgets)),
            budgets=dict(sorted(arm.budgets.items())),
            target_items=arm.target_items,
            n_train=arm.n_train,
            letter_bias=LetterBias(**evaluate.letter_bias(pooled)),
            per_seed=acc.per_seed,
            mean=spread.get("mean"),
            sd=spread.get("sd"),
            general=dict(sorted(arm.general.items())),
            flags=tuple(_flag(c) for c in checks[arm.name]),
        )
    learn = (evaluate.learnability(acc_of["target_trained"]) if "target_trained" in acc_of
             else None)
    scores = {n: a.estimate for n, a in acc_of.items()}
    diffs, verdicts = _verdicts(cfg, plan, arm_preds, scores, checks, learn, _contrast)
    return TargetResult(
        target=Cell(subset=t.subset, modality=t.modality, area=t.area, task=t.task),
        arms=arms,
        diffs=diffs,
        dropped_leaky_test_items=dropped,
        learnable=None if learn is None else not learn.flagged,
        learnability=None if learn is None else _flag(learn),
        verdicts=tuple(verdicts),
    )


def _verdicts(cfg: ExperimentConfig, plan: Plan, arm_preds: Mapping[str, Runs],
              scores: Mapping[str, float], checks: Mapping[str, list[Check]],
              learn: Check | None, contrast: Callable[..., Contrast],
              ) -> tuple[dict[str, Contrast], list[Verdict]]:
    """The wanted contrasts and the three questions' verdicts (``scores``: each arm's point
    estimate of the verdict metric, which picks the best single component)."""
    names = [a.name for a in plan.arms]
    diffs = {f"{a}_minus_{b}": contrast(cfg, a, b, arm_preds)
             for a, b in _wanted_contrasts(names)}
    verdicts: list[Verdict] = []

    def ask(question: str, b: str, positive: str, negative: str) -> None:
        name = f"related_minus_{b}"
        if name not in diffs:
            diffs[name] = contrast(cfg, "related", b, arm_preds)
        # Only the arm under test (related) and the target's learnability can make a contrast
        # uninformative. A degenerate comparison arm (one answer, or image-blind) scores chance
        # on the label-balanced test set, so the contrast is still a valid "related vs chance"
        # (its flag is printed beside the arm); flagging it too would make every builtin-model
        # test uninformative, since unrelated data teaches nothing about the target's images.
        flags = [*checks["related"], *([learn] if learn else [])]
        said = evaluate.verdict(diffs[name], *flags, positive=positive, negative=negative)
        verdicts.append(Verdict(question=question, contrast=name, verdict=said))

    if "related" in names:
        if "unrelated" in names:
            ask("related vs unrelated", "unrelated", CG_GAIN, NEGATIVE)
        components = [n for n in names if n.startswith(COMPONENT_PREFIXES)]
        if components:
            best = max(components, key=lambda n: (scores[n], n))
            ask(f"related vs its best single component ({best})", best, "recombination",
                "component better")
        if "only_task" in names:
            ask("related vs only_task", "only_task", "beyond the task", "task alone better")
    return diffs, verdicts


def _grounding_target(cfg: ExperimentConfig, plan: Plan, arm_preds: dict[str, Runs],
                      dropped: int) -> TargetResult:
    """A grounding target's result: box metrics per arm, cIoU contrasts and verdicts."""
    t = plan.target
    arms, metrics = {}, {}
    for arm in plan.arms:
        arms[arm.name], metrics[arm.name] = sb.box_arm(cfg, arm, arm_preds[arm.name])
    whole = sb.baseline(arm_preds[plan.arms[0].name])
    learn = (sb.box_learnability(metrics["target_trained"], whole)
             if "target_trained" in metrics else None)
    scores = {n: m.metrics[sb.VERDICT_METRIC].estimate for n, m in metrics.items()}
    diffs, verdicts = _verdicts(cfg, plan, arm_preds, scores, {n: [] for n in arms}, learn,
                                sb.box_contrast)
    return TargetResult(
        target=Cell(subset=t.subset, modality=t.modality, area=t.area, task=t.task),
        arms=arms, diffs=diffs, dropped_leaky_test_items=dropped,
        learnable=None if learn is None else not learn.flagged,
        learnability=None if learn is None else _flag(learn),
        verdicts=tuple(verdicts), whole_image_ciou=whole,
    )
