"""Predictions of every arm -> the typed results of one target (:mod:`medmat.evaluate.results`)."""

from __future__ import annotations

from medmat import evaluate
from medmat.evaluate.results import ArmResult, Cell, Contrast, LetterBias, TargetResult
from medmat.experiment.config import ExperimentConfig
from medmat.records import Prediction
from medmat.splits import Plan


def _wanted_contrasts(names: list[str]) -> list[tuple[str, str]]:
    """related - unrelated (the study's), every arm - untrained, target_trained - every arm."""
    return [
        (a, b)
        for a in names
        for b in names
        if a != b
        and ((a, b) == ("related", "unrelated") or b == "untrained" or a == "target_trained")
    ]


def summarise_target(
    cfg: ExperimentConfig, plan: Plan, arm_preds: dict[str, list[list[Prediction]]], dropped: int
) -> TargetResult:
    t = plan.target
    arms: dict[str, ArmResult] = {}
    for arm in plan.arms:
        runs = arm_preds[arm.name]
        pooled = [p for run in runs for p in run]
        acc = evaluate.accuracy_over_seeds(runs, n_boot=cfg.bootstrap, seed=cfg.seeds[0])
        per_seed = [evaluate.accuracy(run).accuracy for run in runs]
        spread = evaluate.seed_summary(per_seed)
        arms[arm.name] = ArmResult(
            name=arm.name,
            **acc.to_dict(),
            train_subsets=tuple(sorted(arm.budgets)),
            budgets=dict(sorted(arm.budgets.items())),
            target_items=arm.target_items,
            n_train=arm.n_train,
            letter_bias=LetterBias(**evaluate.letter_bias(pooled)),
            per_seed=tuple(per_seed),
            mean=spread.get("mean"),
            sd=spread.get("sd"),
        )
    diffs: dict[str, Contrast] = {}
    for a, b in _wanted_contrasts([a.name for a in plan.arms]):
        # one row per seed: the bootstrap resamples whole test items, not (seed, item) pairs
        rows = [evaluate.align(ra, rb) for ra, rb in zip(arm_preds[a], arm_preds[b], strict=True)]
        diff = evaluate.paired_bootstrap_diff(
            [x for x, _ in rows], [y for _, y in rows], n_boot=cfg.bootstrap, seed=cfg.seeds[0]
        )
        name = f"{a}_minus_{b}"
        diffs[name] = Contrast(name=name, **diff.to_dict())
    return TargetResult(
        target=Cell(subset=t.subset, modality=t.modality, area=t.area, task=t.task),
        arms=arms,
        diffs=diffs,
        dropped_leaky_test_items=dropped,
    )
