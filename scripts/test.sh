#!/usr/bin/env bash
# The test command the README gives: lint, then the suite (Qt offscreen).
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
python -m ruff check allgui tests benchmarks packaging
python -m pytest -q -m "not slow" "$@"
