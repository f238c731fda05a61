"""The medmat CLI as a module, for ``accelerate launch`` (multi-GPU, multi-node, DeepSpeed).

    accelerate launch --config_file examples/accelerate-multigpu.yaml \\
        -m medmat.train.hf.launch experiment run examples/hf-qwen2vl-2b.yaml --out runs/hf

Every process runs the same command; the hf backend's Accelerator shards training batches and
scoring items between them and gathers the predictions, so each process ends with the same
results. Progress bars are drawn by the main process only.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    rank = os.environ.get("RANK") or os.environ.get("LOCAL_RANK") or "0"
    if rank != "0":
        os.environ["MEDMAT_PROGRESS"] = "0"
    from medmat.cli import main as cli_main

    cli_main(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
