"""A whole CG experiment (`medmat experiment run`) with `backend: hf` on the synthetic lab."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
import yaml

from medmat import experiment

ARMS = ("related", "unrelated", "target_trained", "untrained")


def _config(model: str, mode: str) -> dict:
    return {
        "name": "hf-tiny",
        "data": {"lab": {"seed": 0, "size": 64, "n_train": 8, "n_test": 4,
                         "cells": ["xray-brain-lesion", "xray-lung-lesion", "ct-brain-lesion",
                                   "mri-kidney-abnormal"]}},
        "targets": ["xray-brain-lesion"],
        "arms": list(ARMS),
        "budget_per_subset": 4,
        "backend": "hf",
        "backend_options": {"model": model, "epochs": 2, "batch_size": 4, "lr": 1e-2,
                            "mode": mode, "max_new_tokens": 4},
        "seeds": [0],
        "bootstrap": 50,
    }


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["likelihood", "generate"])
def test_experiment_with_hf_backend(qwen_path, tmp_path, mode):
    out = tmp_path / "run"
    metrics = experiment.run_experiment(_config(str(qwen_path), mode), out).to_dict()
    assert metrics["backend"] == "hf"
    (target,) = metrics["targets"]
    assert target["target"]["subset"] == "xray-brain-lesion"
    assert set(target["arms"]) == set(ARMS)
    for name, arm in target["arms"].items():
        assert arm["n"] == 4
        assert 0.0 <= arm["accuracy"] <= 1.0
        run_dir = out / "runs" / "xray-brain-lesion" / name / "seed0"
        preds = pq.read_table(run_dir / "predictions.parquet").to_pylist()
        assert len(preds) == 4
        if mode == "likelihood":
            assert all(p["predicted"] in "ABCD" and len(p["scores"]) == p["n_options"]
                       for p in preds)
            assert arm["no_answer"] == 0
        else:  # generation records carry no scores; unparseable replies are None, counted
            assert all(p["scores"] == [] for p in preds)
            assert arm["no_answer"] == sum(p["predicted"] is None for p in preds)
    # models live in OUT/models/KEY, one per distinct training; the untrained arm has none
    done = [json.loads(p.read_text()) for p in (out / "models").glob("*/hf_done.json")]
    trained = {name for name, arm in target["arms"].items() if arm["n_train"] > 0}
    assert "untrained" not in trained and len(done) == len(trained)
    assert sorted(d["n_items"] for d in done) == sorted(target["arms"][n]["n_train"]
                                                        for n in trained)
    assert all((p.parent / "adapter" / "adapter_model.safetensors").is_file()
               for p in (out / "models").glob("*/hf_done.json"))
    # a second run reuses every arm's predictions and gives the same numbers
    again = experiment.run_experiment(_config(str(qwen_path), mode), out).to_dict()
    assert again["targets"] == metrics["targets"]


@pytest.mark.slow
def test_cli_as_a_module(qwen_path, tmp_path):
    """`python -m medmat.cli experiment run` is what `accelerate launch -m` runs."""
    config = tmp_path / "hf.yaml"
    config.write_text(yaml.safe_dump(_config(str(qwen_path), "likelihood")))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MEDMAT_PROGRESS": "0"}
    proc = subprocess.run(
        [sys.executable, "-m", "medmat.cli", "experiment", "run", str(config),
         "--out", str(tmp_path / "out")],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["backend"] == "hf" and set(metrics["targets"][0]["arms"]) == set(ARMS)
