#!/usr/bin/env bash
# Set up (core only) and run the main job on the embedded default: synthetic lab + built-in model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/medmat quickstart --out "${1:-runs/quickstart}"
