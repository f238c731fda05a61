"""The Med-MAT study's designs: a registry declared as data, planned (catalog, lab, records), run.

Planning: :mod:`~medmat.study.planner` (via ``catalog_plan`` or ``lattice_plan``); running a plan
folder and its typed results: :mod:`~medmat.study.run`, :mod:`~medmat.study.results`.

>>> from medmat.study import load_designs
>>> load_designs().design("pairwise").status
'available'
"""

from __future__ import annotations

from medmat.study.registry import Design, DesignRegistry, load_designs

__all__ = ["Design", "DesignRegistry", "load_designs"]
