#!/usr/bin/env bash
# Create .venv and install medmat with the given extras; torch pinned to the local CPU build.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -c constraints.txt -e ".${extras:+[$extras]}"
