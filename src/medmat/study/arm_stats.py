"""Arm numbers the experiments did not compute themselves, from their stored predictions.

Every interval here is the experiments' own two-level bootstrap (:mod:`medmat.evaluate.seeds`:
training seeds, then test items) with the experiment's bootstrap settings; nothing is
re-estimated another way. A study reads an arm's predictions from
``DIR/runs/EXPERIMENT/runs/TARGET/ARM/seedN/predictions.parquet``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medmat.errors import MedmatError
from medmat.evaluate.results import ArmResult, ExperimentResult
from medmat.study.results import Estimate

POOLED_RULE = ("mean over subsets: the subsets' test items pooled into one seeds x items table "
               "(each seed's row joins that seed's runs), then the two-level bootstrap; equal "
               "to the unweighted mean of the subsets' accuracies when their test sets are the "
               "same size")  # fmt: skip


def estimate(arm: ArmResult) -> Estimate:
    return Estimate(value=arm.accuracy, ci95=arm.ci95, per_seed=arm.per_seed)


def n_boot(result: ExperimentResult) -> int:
    return int(result.config.get("bootstrap", 2000))


def arm_runs(run_dir: Path, result: ExperimentResult, arm: str, target: int = 0) -> list:
    """One prediction list per training seed of ``arm`` on the experiment's target."""
    from medmat.experiment.arms import PREDICTIONS, read_predictions

    t = result.targets[target]
    base = run_dir / "runs" / t.target.subset / arm
    paths = [base / f"seed{s}" / PREDICTIONS for s in result.seeds]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise MedmatError(f"{missing[0]}: predictions missing; rerun `medmat study run` to "
                          "finish the experiment")  # fmt: skip
    return [read_predictions(p) for p in paths]


def paired(runs_a: list, runs_b: list, *, boot: int, seed: int,
           names: tuple[str, str]) -> Estimate:
    """``a - b`` on the same test items (paired two-level bootstrap)."""
    from medmat import evaluate

    d = evaluate.seed_diff(runs_a, runs_b, n_boot=boot, seed=seed, names=names)
    return Estimate(value=d.estimate, ci95=d.ci95, per_seed=d.per_seed)


def pooled_table(runs_per_subset: Sequence[list]) -> np.ndarray:
    """Seeds x items correctness over several subsets' test items (same seed list each)."""
    from medmat.evaluate.seeds import correct_table

    tables = [correct_table(runs)[1] for runs in runs_per_subset]
    if len({t.shape[0] for t in tables}) > 1:
        raise MedmatError("pooled mean: the experiments ran different numbers of seeds; plan "
                          "every experiment with the same --seeds")  # fmt: skip
    return np.hstack(tables)


def pooled_accuracy(runs_per_subset: Sequence[list], *, boot: int, seed: int) -> Estimate:
    from medmat.evaluate.seeds import two_level_accuracy

    acc = two_level_accuracy(pooled_table(runs_per_subset), n_boot=boot, seed=seed)
    return Estimate(value=acc.estimate, ci95=acc.ci95, per_seed=acc.per_seed)


def pooled_diff(runs_a: Sequence[list], runs_b: Sequence[list], *, boot: int,
                seed: int) -> Estimate:
    """Pooled ``a - b`` (each subset's two arms answer the same items, so columns pair)."""
    from medmat.evaluate.seeds import two_level_diff

    d = two_level_diff(pooled_table(runs_a), pooled_table(runs_b), n_boot=boot, seed=seed)
    return Estimate(value=d.estimate, ci95=d.ci95, per_seed=d.per_seed)
