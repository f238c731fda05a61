"""The Med-MAT study's experiment designs: a registry declared as data, and catalog planning.

>>> from medmat.study import load_designs
>>> load_designs().design("pairwise").status
'available'
"""

from __future__ import annotations

from medmat.study.registry import Design, DesignRegistry, load_designs

__all__ = ["Design", "DesignRegistry", "load_designs"]
