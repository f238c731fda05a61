"""Changing one config key recomputes exactly the stages that depend on it, and nothing is stale.

For every key the test reruns into the folder of a finished base run, reads the run log (one
line per stage: reused / recomputed and why), checks which stages were recomputed, and checks
that ``metrics.json`` equals a fresh run of the changed config into an empty folder.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmat.experiment import run_experiment
from medmat.experiment.runner import RunLog

pytestmark = pytest.mark.slow

TARGET = "ct-brain-lesion"
ARMS = ("related", "unrelated", "target_trained", "untrained")


def tiny(**overrides) -> dict:
    cfg = {
        "name": "fp",
        "data": {"lab": {"seed": 0, "null": False, "size": 32, "n_train": 24, "n_test": 8,
                         "cells": ["ct-brain-lesion", "ct-lung-lesion", "mri-brain-lesion",
                                   "xray-kidney-severity", "us-kidney-abnormal",
                                   "fp-bones-location", "photo-scene-lesion"]}},
        "targets": [TARGET],
        "arms": list(ARMS),
        "budget_per_subset": 24,
        "backend": "builtin",
        "backend_options": {"epochs": 1, "batch_size": 16, "image_size": 16, "width": 4,
                            "hidden": 16},
        "seeds": [0],
        "bootstrap": 50,
    }
    for key, value in overrides.items():
        if key.startswith("lab."):
            cfg["data"]["lab"][key[4:]] = value
        else:
            cfg[key] = value
    return cfg


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fp") / "base"
    run_experiment(tiny(), out, log=RunLog())
    return out


def decisions(log: RunLog) -> dict[str, str]:
    """stage -> 'reused' or 'recomputed' from the run log's lines."""
    out = {}
    for line in log.lines:
        stage, _, rest = line.partition(": ")
        # "models" trains, side by side, exactly the models of the arms logged as recomputed
        if stage.startswith("records") or stage == "models":
            continue
        out[stage] = "reused" if rest.startswith("reused") else "recomputed"
    return out


def arm(name: str, seed: int = 0, target: str = TARGET) -> str:
    return f"{target} / {name} / seed {seed}"


ALL_ARMS = {arm(a) for a in ARMS}
DATA = {"lab", "items"}
METRICS = "metrics and report"

CASES = {
    # key: (overrides, stages expected to be recomputed; every other stage must be reused)
    "lab.seed": ({"lab.seed": 1}, DATA | ALL_ARMS | {METRICS}),
    "lab.null": ({"lab.null": True}, DATA | ALL_ARMS | {METRICS}),
    "lab.size": ({"lab.size": 24}, DATA | ALL_ARMS | {METRICS}),
    "lab.n_test": ({"lab.n_test": 12}, DATA | ALL_ARMS | {METRICS}),
    "qa_seed": ({"qa_seed": 3}, {"items"} | ALL_ARMS | {METRICS}),
    # the lab has no duplicate images, so dropping leaky items changes no item: arms stay
    "drop_leaky": ({"drop_leaky": True}, {"items", METRICS}),
    "backend_options": ({"backend_options": {**tiny()["backend_options"], "lr": 2e-3}},
                        ALL_ARMS | {METRICS}),
    "seeds": ({"seeds": [0, 1]}, {arm(a, 1) for a in ARMS} | {METRICS}),
    # related = 2 x 12 items = the target's 24: target_trained (min of the two) is unchanged
    "budget_per_subset": ({"budget_per_subset": 12}, {arm("related"), arm("unrelated"), METRICS}),
    "arms": ({"arms": ["related", "untrained"]}, {METRICS}),
    # the same general-domain items join every arm that trains; untrained stays untrained
    "general_items": ({"general_items": 8},
                      {arm("related"), arm("unrelated"), arm("target_trained"), METRICS}),
    "bootstrap": ({"bootstrap": 60}, {METRICS}),
    "name": ({"name": "renamed"}, {METRICS}),
    # a new cell sorts after the others: every existing item keeps its id, text and image, and
    # the new subset fits no arm of this target, so the lab and items are rebuilt but no arm is
    "lab.cells": ({"lab.cells": [*tiny()["data"]["lab"]["cells"], "xray-lung-lesion"]},
                  DATA | {METRICS}),
    # the same target spelled as a triplet: nothing is retrained (a different target is planned
    # from scratch: see test_plan_command_equals_plan_json_for_multi_target_multi_seed)
    "targets": ({"targets": [{"modality": "CT", "area": "Brain", "task": "Lesion type"}]},
                {METRICS}),
}


@pytest.mark.parametrize("key", sorted(CASES))
def test_one_key_recomputes_exactly_its_dependents(key, base, tmp_path):
    overrides, expected = CASES[key]
    out = tmp_path / "rerun"
    shutil.copytree(base, out)
    log = RunLog()
    run_experiment(tiny(**overrides), out, log=log)
    got = decisions(log)
    recomputed = {stage for stage, what in got.items() if what == "recomputed"}
    assert recomputed == expected, got
    assert set(got) >= expected | DATA | {METRICS}  # every stage was logged
    fresh = tmp_path / "fresh"
    run_experiment(tiny(**overrides), fresh, log=RunLog())
    assert (out / "metrics.json").read_bytes() == (fresh / "metrics.json").read_bytes()


def test_templates_change_rebuilds_items_and_arms(base, tmp_path):
    templates = tmp_path / "templates.yaml"
    templates.write_text(
        "tasks:\n  Lesion type:\n" + "".join(
            f"    - 'Which lesion type is visible in this {{modality}} image of the {{area}}? "
            f"(form {i})'\n" for i in range(6))
    )
    out = tmp_path / "rerun"
    shutil.copytree(base, out)
    log = RunLog()
    run_experiment(tiny(templates=str(templates)), out, log=log)
    got = decisions(log)
    assert got["lab"] == "reused" and got["items"] == "recomputed"
    assert all(got[a] == "recomputed" for a in ALL_ARMS), got
    fresh = tmp_path / "fresh"
    run_experiment(tiny(templates=str(templates)), fresh, log=RunLog())
    assert (out / "metrics.json").read_bytes() == (fresh / "metrics.json").read_bytes()


def test_editing_one_image_invalidates_items_and_the_arms_that_used_it(base, tmp_path):
    out = tmp_path / "rerun"
    shutil.copytree(base, out)
    # a training image of a subset only the unrelated arm trains on (every item is used: the
    # budget equals the split); same path, same mtime restored
    arms = json.loads((out / "plan.json").read_text())["plans"][0]["arms"]
    unrelated = next(a for a in arms if a["name"] == "unrelated")["budgets"]
    related = next(a for a in arms if a["name"] == "related")["budgets"]
    subset = sorted(set(unrelated) - set(related))[0]
    image = sorted((out / "lab" / "images" / subset / "train").glob("*.png"))[0]
    stat = image.stat()
    with Image.open(image) as im:
        pixels = np.asarray(im).copy()
    pixels[0, 0] = 255 - pixels[0, 0]
    Image.fromarray(pixels).save(image)
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    log = RunLog()
    run_experiment(tiny(), out, log=log)
    got = decisions(log)
    assert got["lab"] == "reused" and got["items"] == "recomputed", got
    assert got[arm("unrelated")] == "recomputed", got
    for other in ("related", "target_trained", "untrained"):
        assert got[arm(other)] == "reused", (other, got)
    assert got[METRICS] == "recomputed"


def test_plan_command_equals_plan_json_for_multi_target_multi_seed(tmp_path):
    import subprocess
    import sys

    import yaml

    cfg = tiny(targets=[TARGET, "xray-lung-lesion"], seeds=[3, 4])
    cfg["data"]["lab"]["cells"].append("xray-lung-lesion")
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run_experiment(cfg, tmp_path / "out", log=RunLog())
    plan = subprocess.run([sys.executable, "-m", "medmat.cli", "experiment", "plan", str(path)],
                          capture_output=True, text=True, env={**os.environ,
                                                               "MEDMAT_PROGRESS": "0"})
    assert plan.returncode == 0, plan.stderr
    written = (tmp_path / "out" / "plan.json").read_text()
    assert plan.stdout == written
    plans = json.loads(written)["plans"]
    assert [p["target"]["subset"] for p in plans] == [TARGET, "xray-lung-lesion"]
    for p in plans:  # the unrelated arm of one target never trains on the other target
        other = {TARGET, "xray-lung-lesion"} - {p["target"]["subset"]}
        unrelated = next(a for a in p["arms"] if a["name"] == "unrelated")
        assert unrelated["budgets"] and not other & set(unrelated["budgets"]), unrelated
