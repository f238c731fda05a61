"""Splits and CG experiment plans: which subsets train each arm, never the target itself."""

from medmat.splits.lattice import SubsetInfo, find_target, lattice_from_table
from medmat.splits.planner import (
    BUILTIN_ARMS,
    Arm,
    Plan,
    check_plan,
    plan_target,
    related_subsets,
)

__all__ = [
    "BUILTIN_ARMS",
    "Arm",
    "Plan",
    "SubsetInfo",
    "check_plan",
    "find_target",
    "lattice_from_table",
    "plan_target",
    "related_subsets",
]
