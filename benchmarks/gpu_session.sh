#!/usr/bin/env bash
# One device session: the hf backend's GPU benchmark (2B and 7B Qwen2-VL shapes, random weights)
# and the hf backend's tests on the GPU. Run from the repo root on a CUDA machine whose python3
# has torch; wheels in .whl/ (pydantic, transformers) are installed to /tmp/site first if present.
#   OUT=/some/dir bash benchmarks/gpu_session.sh
set -o pipefail
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers, peft, accelerate; print('torch', torch.__version__,
'transformers', transformers.__version__, 'peft', peft.__version__, 'accelerate',
accelerate.__version__)" | tee -a "$OUT/gpu.txt"
timeout 170 python3 benchmarks/bench_hf_gpu.py --json "$OUT/bench-2b-lora.json" 2>&1 \
    | tee "$OUT/bench-2b-lora.txt"
timeout 200 python3 benchmarks/bench_hf_gpu.py --shape qwen2-vl-7b --batch-size 4 \
    --train-items 96 --eval-items 64 --json "$OUT/bench-7b-lora.json" 2>&1 \
    | tee "$OUT/bench-7b-lora.txt"
timeout 90 python3 -m pytest -q -p no:cacheprovider tests/train/hf 2>&1 | tee "$OUT/pytest-hf-gpu.txt"
