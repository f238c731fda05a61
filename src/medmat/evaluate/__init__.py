"""Evaluation statistics for medmat experiments (pure numpy/scipy, no torch).

- :func:`accuracy` / :func:`wilson_interval`: accuracy of one arm with a Wilson interval;
  "no answer" predictions count as wrong and are reported. :func:`accuracy_over_seeds`: the
  same over several seeds, with an interval that resamples test items.
- :func:`align`, :func:`paired_bootstrap_diff`, :func:`mcnemar`: two arms on the same items.
- :func:`letter_bias`: predicted vs gold answer-letter distribution.
- :func:`seed_summary`: mean ± sd of a metric over seeds.
- :func:`seed_accuracy` / :func:`seed_diff` (:mod:`medmat.evaluate.seeds`): intervals that
  include training-seed variance (two-level bootstrap: seeds, then test items).
- :func:`constant_answer`, :func:`image_independence`, :func:`learnability`,
  :func:`upper_bound_check` and :func:`verdict` (:mod:`medmat.evaluate.degenerate`): flags for
  degenerate arms and uninformative tests, and the verdict that respects them.
"""

from medmat.evaluate.accuracy import (
    AccuracyResult,
    accuracy,
    accuracy_over_seeds,
    seed_summary,
    wilson_interval,
)
from medmat.evaluate.bias import letter_bias
from medmat.evaluate.degenerate import (
    Check,
    answer_texts,
    constant_answer,
    image_independence,
    learnability,
    shuffled_images,
    upper_bound_check,
    verdict,
)
from medmat.evaluate.paired import DiffResult, align, mcnemar, paired_bootstrap_diff
from medmat.evaluate.seeds import (
    SeedAccuracy,
    SeedContrast,
    SeedDiff,
    correct_table,
    seed_accuracy,
    seed_diff,
    two_level_accuracy,
    two_level_contrast,
    two_level_diff,
)

__all__ = [
    "AccuracyResult",
    "Check",
    "DiffResult",
    "SeedAccuracy",
    "SeedContrast",
    "SeedDiff",
    "accuracy",
    "accuracy_over_seeds",
    "align",
    "answer_texts",
    "constant_answer",
    "correct_table",
    "image_independence",
    "learnability",
    "letter_bias",
    "mcnemar",
    "paired_bootstrap_diff",
    "seed_accuracy",
    "seed_diff",
    "seed_summary",
    "shuffled_images",
    "two_level_accuracy",
    "two_level_contrast",
    "two_level_diff",
    "upper_bound_check",
    "verdict",
    "wilson_interval",
]
