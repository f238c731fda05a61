"""Leakage guard: no test image may also be a training image (exact or near duplicate).

* :mod:`~medmat.leakage.guard`: the cheap exact check (stored ``pixel_sha1``) the builder and the
  planner run before writing anything.
* :mod:`~medmat.leakage.near_guard`: the same refusal for perceptual-hash near duplicates.
* :mod:`~medmat.leakage.report`: ``find_duplicates`` across tables/sources, behind
  ``medmat leakage``.
"""

from medmat.leakage.guard import enforce_no_test_in_train, exact_cross_split_pairs
from medmat.leakage.near_guard import enforce_no_test_in_train_near, near_cross_split_pairs
from medmat.leakage.nearpairs import near_components, near_pairs
from medmat.leakage.report import (
    DEFAULT_THRESHOLD,
    DuplicateGroup,
    LeakageReport,
    Member,
    find_duplicates,
)
from medmat.leakage.sources import RecordsSource

__all__ = [
    "DEFAULT_THRESHOLD",
    "DuplicateGroup",
    "LeakageReport",
    "Member",
    "RecordsSource",
    "enforce_no_test_in_train",
    "enforce_no_test_in_train_near",
    "exact_cross_split_pairs",
    "find_duplicates",
    "near_components",
    "near_cross_split_pairs",
    "near_pairs",
]
