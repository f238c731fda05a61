"""Run by test_multiprocess.py under `accelerate launch` (two CPU processes, gloo)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from medmat.testing.tiny_models import synthetic_items
from medmat.train.hf import HFBackend

torch.set_num_threads(1)
model, work, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
root = work / "images"
items = synthetic_items(root, 12, answer="B")  # same files on every rank (same seed)
backend = HFBackend(model=model, epochs=3, batch_size=2, grad_accum=2, lr=2e-2,
                    warmup_ratio=0.0, device="cpu", eval_batch_size=4)
backend.fit(items, root, work / "run", seed=0)
preds = backend.score(items, root)
acc = backend.accelerator
result = {"rank": acc.process_index, "world": acc.num_processes,
          "steps": backend.last_train.steps, "ids": [p.item_id for p in preds],
          "predicted": [p.predicted for p in preds]}
(out / f"rank{acc.process_index}.json").write_text(json.dumps(result))
