"""Leakage guard: no test image may also be a training image (exact or near duplicate)."""

from medmat.leakage.guard import enforce_no_test_in_train, exact_cross_split_pairs

__all__ = ["enforce_no_test_in_train", "exact_cross_split_pairs"]
