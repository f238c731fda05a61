"""The report reads the experiment's typed results (:mod:`medmat.evaluate.results`).

There is one set of result types: the runner writes them as ``metrics.json`` and the report reads
them back through the same models, so a malformed or foreign ``metrics.json`` fails with one
:class:`MedmatError` naming the field, before anything is drawn or written. The names below are
the report's vocabulary for those types.
"""

from __future__ import annotations

from medmat.evaluate.results import CANONICAL_ARMS, Cell, Contrast, sort_arms
from medmat.evaluate.results import ArmResult as Arm
from medmat.evaluate.results import ExperimentResult as Report
from medmat.evaluate.results import TargetResult as Target
from medmat.evaluate.results import load_result as parse_metrics

__all__ = ["CANONICAL_ARMS", "Arm", "Cell", "Contrast", "Report", "Target", "parse_metrics",
           "sort_arms"]
