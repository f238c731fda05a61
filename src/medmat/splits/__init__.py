"""Splits and CG experiment plans: which subsets train each arm, never the target itself."""

from medmat.splits.lattice import GENERAL_MODALITIES, SubsetInfo, find_target, lattice_from_table
from medmat.splits.planner import (
    BUILTIN_ARMS,
    TIE_RULE,
    Arm,
    Pick,
    Plan,
    check_plan,
    general_mix,
    plan_target,
    related_selection,
    related_subsets,
)

__all__ = [
    "BUILTIN_ARMS",
    "GENERAL_MODALITIES",
    "TIE_RULE",
    "Arm",
    "Pick",
    "Plan",
    "SubsetInfo",
    "check_plan",
    "find_target",
    "general_mix",
    "lattice_from_table",
    "plan_target",
    "related_selection",
    "related_subsets",
]
