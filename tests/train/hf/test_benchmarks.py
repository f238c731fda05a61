"""The hf benchmark scripts run end to end on CPU (the GPU one with its tiny-shape flag)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[3] / "benchmarks"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MEDMAT_PROGRESS": "0"}


def _run(args: list[str]) -> str:
    proc = subprocess.run([sys.executable, *args], env=ENV, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_gpu_benchmark_runs_on_cpu_with_tiny_shape(tmp_path):
    out = _run([str(BENCH / "bench_hf_gpu.py"), "--shape", "tiny", "--train-items", "8",
                "--eval-items", "4", "--batch-size", "4", "--eval-batch-size", "4",
                "--image-size", "56", "--workers", "0", "--max-new-tokens", "4",
                "--json", str(tmp_path / "r.json")])
    assert "| training tokens/s |" in out and "| eval option likelihood, items/s |" in out
    result = json.loads((tmp_path / "r.json").read_text())
    # MFU is only defined against a GPU's peak (seen on an H200: a number, not "n/a")
    assert result["shape"] == "tiny"
    assert (result["mfu"] == "n/a") == (not torch.cuda.is_available())
    assert result["train_tokens_per_s"] > 0 and result["eval_likelihood_items_per_s"] > 0


@pytest.mark.slow
def test_cpu_benchmark_runs():
    out = _run([str(BENCH / "bench_hf_cpu.py"), "--items", "8", "--shapes", "tiny",
                "--repeats", "1", "--epochs", "1"])
    assert "| tiny | eval: option likelihood |" in out
    assert "| tiny | training (LoRA) |" in out
