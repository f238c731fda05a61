"""Evaluation statistics for medmat experiments (pure numpy/scipy, no torch).

- :func:`accuracy` / :func:`wilson_interval`: accuracy of one arm with a Wilson interval;
  "no answer" predictions count as wrong and are reported. :func:`accuracy_over_seeds`: the
  same over several seeds, with an interval that resamples test items.
- :func:`align`, :func:`paired_bootstrap_diff`, :func:`mcnemar`: two arms on the same items.
- :func:`letter_bias`: predicted vs gold answer-letter distribution.
- :func:`seed_summary`: mean ± sd of a metric over seeds.
"""

from medmat.evaluate.accuracy import (
    AccuracyResult,
    accuracy,
    accuracy_over_seeds,
    seed_summary,
    wilson_interval,
)
from medmat.evaluate.bias import letter_bias
from medmat.evaluate.paired import DiffResult, align, mcnemar, paired_bootstrap_diff

__all__ = [
    "AccuracyResult",
    "DiffResult",
    "accuracy",
    "accuracy_over_seeds",
    "align",
    "letter_bias",
    "mcnemar",
    "paired_bootstrap_diff",
    "seed_summary",
    "wilson_interval",
]
