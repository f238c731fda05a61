#!/usr/bin/env bash
# Set up (all extras) and run the whole test suite, slow end-to-end tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh all
.venv/bin/ruff check src tests benchmarks
# the slowest tests are listed at the end: the suite should stay well under 10 minutes
.venv/bin/python -m pytest -q --durations=15 "$@"
