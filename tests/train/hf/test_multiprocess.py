"""`accelerate launch` with two CPU processes: sharded training, gathered predictions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DRIVER = Path(__file__).with_name("ddp_driver.py")


@pytest.mark.slow
def test_two_processes_train_and_score(qwen_path, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MEDMAT_PROGRESS": "0",
           "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
           "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--main_process_port", "29517",
           str(DRIVER), str(qwen_path), str(tmp_path / "work"), str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for res in results:
        assert res["world"] == 2
        # 12 items, batch 2 per process -> 3 batches per process per epoch; accumulation 2
        # -> 2 optimizer steps per epoch (the last group is partial), 3 epochs
        assert res["steps"] == 6
        assert res["ids"] == list(range(12))  # every rank gets all predictions, in order
        assert res["predicted"] == ["B"] * 12
    assert (tmp_path / "work" / "run" / "hf_done.json").is_file()
    assert (tmp_path / "work" / "run" / "adapter" / "adapter_model.safetensors").is_file()
