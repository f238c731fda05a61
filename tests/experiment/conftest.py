from __future__ import annotations

import pytest


def small_config(**overrides) -> dict:
    """A tiny lab experiment: seconds on CI, same code path as the quickstart."""
    cfg = {
        "name": "small",
        "data": {"lab": {"seed": 0, "null": False, "size": 32, "n_train": 48, "n_test": 16,
                         "cells": ["ct-brain-lesion", "ct-lung-lesion", "mri-brain-lesion",
                                   "xray-kidney-severity", "us-kidney-abnormal",
                                   "fp-bones-location"]}},
        "targets": ["ct-brain-lesion"],
        "arms": ["related", "unrelated", "target_trained", "untrained"],
        "budget_per_subset": 40,
        "backend": "builtin",
        "backend_options": {"epochs": 2, "batch_size": 16, "image_size": 16, "width": 8,
                            "hidden": 32},
        "seeds": [0],
        "bootstrap": 200,
    }
    cfg.update(overrides)
    return cfg


@pytest.fixture
def config():
    return small_config
