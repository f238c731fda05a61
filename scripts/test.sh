#!/usr/bin/env bash
# Set up (all extras) and run the whole test suite, slow end-to-end tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh all
.venv/bin/ruff check src tests benchmarks
.venv/bin/python -m pytest -q "$@"
