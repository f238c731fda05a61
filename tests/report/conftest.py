"""A hand-made metrics dict shaped like the experiment runner's: 2 targets x 4 arms."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

LATTICE = [
    {"modality": m, "area": a, "task": t, "subset": f"{mc}-{a.lower()}-{tc}"}
    for m, mc in (("X-ray", "xray"), ("CT", "ct"), ("MRI", "mri"))
    for a in ("Lung", "Brain", "Bones")
    for t, tc in (("Lesion type", "lesion"), ("Fracture", "fracture"))
    if not (a == "Lung" and tc == "fracture")
]


# medmat.evaluate.letter_bias's shape: counts, shares and the largest gap (A: 60% vs 25%)
BIASED = {
    "letters": ["A", "B", "C", "D"], "n": 200, "n_answered": 200, "no_answer": 0,
    "predicted": {"A": 120, "B": 30, "C": 30, "D": 20},
    "gold": {"A": 50, "B": 50, "C": 50, "D": 50},
    "predicted_share": {"A": 0.6, "B": 0.15, "C": 0.15, "D": 0.1},
    "gold_share": {"A": 0.25, "B": 0.25, "C": 0.25, "D": 0.25},
    "max_share_gap": 0.35, "max_letter": "A", "chi2": 98.0, "dof": 3, "p_value": 0.0, "note": "",
}  # fmt: skip


UNBIASED = {
    "letters": ["A", "B", "C", "D"], "n": 200, "n_answered": 200, "no_answer": 0,
    "predicted": {"A": 50, "B": 52, "C": 48, "D": 50},
    "gold": {"A": 50, "B": 50, "C": 50, "D": 50},
    "predicted_share": {"A": 0.25, "B": 0.26, "C": 0.24, "D": 0.25},
    "gold_share": {"A": 0.25, "B": 0.25, "C": 0.25, "D": 0.25},
    "max_share_gap": 0.01, "max_letter": "B", "chi2": 0.16, "dof": 3, "p_value": 0.98, "note": "",
}  # fmt: skip


def _arm(acc: float, lo: float, hi: float, subsets: list[str], n_train: int,
         bias: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    n = 200
    return {
        "accuracy": acc, "ci95": [lo, hi], "n": n, "n_correct": round(acc * n), "no_answer": 0,
        "chance": 0.25, "train_subsets": subsets, "n_train": n_train,
        "letter_bias": bias or UNBIASED,
        "per_seed": [acc], "mean": acc, "sd": 0.0,
    }  # fmt: skip


def build_metrics() -> dict[str, Any]:
    t1 = {
        "target": {"modality": "X-ray", "area": "Brain", "task": "Lesion type",
                   "subset": "xray-brain-lesion"},
        "arms": {
            "related": _arm(0.62, 0.55, 0.68, ["xray-lung-lesion", "ct-brain-lesion"], 2000),
            "unrelated": _arm(0.25, 0.195, 0.31, ["mri-bones-fracture"], 2000, bias=BIASED),
            "target_trained": _arm(0.91, 0.87, 0.94, ["xray-brain-lesion"], 1000),
            "untrained": _arm(0.245, 0.19, 0.305, [], 0),
        },
        # a bootstrap p of 0 means "below 2/n_boot"
        "diffs": {
            "related_minus_untrained": {"diff": 0.375, "ci95": [0.29, 0.46], "p_value": 0.0005},
            "related_minus_unrelated": {"diff": 0.37, "ci95": [0.29, 0.45], "p_value": 0.0,
                                        "n_boot": 2000, "se": 0.04},
        },
    }  # fmt: skip
    t2 = {
        "target": {"modality": "CT", "area": "Bones", "task": "Fracture",
                   "subset": "ct-bones-fracture"},
        "arms": {
            "related": _arm(0.53, 0.46, 0.6, ["xray-bones-fracture", "mri-bones-lesion"], 1500),
            "unrelated": _arm(0.505, 0.435, 0.575, ["mri-lung-lesion"], 1500),
            "target_trained": _arm(0.80, 0.74, 0.85, ["ct-bones-fracture"], 800),
            "untrained": _arm(0.5, 0.43, 0.57, [], 0),
        },
        "diffs": {"related_minus_unrelated": {"diff": 0.025, "ci95": [-0.07, 0.12],
                                              "p_value": 0.61}},
    }  # fmt: skip
    for arm in t2["arms"].values():
        arm["chance"] = 0.5
    for t in (t1, t2):
        for table in (t["arms"], t["diffs"]):
            for name, value in table.items():
                value["name"] = name
    return {
        "schema_version": 2, "name": "unit", "seeds": [0], "backend": "builtin",
        "lab": {"null": False, "seed": 0, "size": 64},
        "config": {"name": "unit", "backend": {"name": "builtin"}},
        "lattice": copy.deepcopy(LATTICE), "targets": [t1, t2],
    }  # fmt: skip


@pytest.fixture(scope="session")
def make_metrics() -> Callable[[], dict[str, Any]]:
    """The factory itself; tests mutate fresh copies (conftest is not importable under
    --import-mode=importlib, so the helper travels as a fixture)."""
    return build_metrics
