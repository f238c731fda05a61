"""The designs planned, run and reported by their own modules, looked up by design name.

Each module gives: ``COLUMNS`` (plan.csv), ``DEFAULT_LAB_CELLS`` / ``DEFAULT_LAB_TARGETS`` (the
small default lab), ``plan_on(plan, sources, lattice, targets, seed=, test_only=)``,
``plan_rows``, ``summary_lines``, ``experiment_configs(plan, common)``,
``study_fields(plan_dir, results, rows)`` (the StudyResult's section), ``markdown(result)`` and
``figures(result)`` (file name -> PNG bytes). three-source has no ``study_fields``,
``markdown`` or ``figures``: its rows are pairwise's, aggregated, reported and plotted as such.
pairwise and ablation (the planner's own designs) and cls-det predate this table and keep their
branches.
"""

from __future__ import annotations

import importlib
from types import ModuleType

MODULES = {
    "multitask": "medmat.study.multitask",
    "three-source": "medmat.study.three_source",
    "efficiency": "medmat.study.efficiency",
    "backbones": "medmat.study.backbones",
}


def module(design: str) -> ModuleType | None:
    """The module of ``design`` (None for pairwise, ablation and cls-det)."""
    name = MODULES.get(design)
    return None if name is None else importlib.import_module(name)
