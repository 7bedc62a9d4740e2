#!/usr/bin/env bash
# The test command the README gives: lint, import contracts, types, then the
# suite (Qt offscreen). Arguments go to pytest, e.g.
#   scripts/test.sh -m "not gui and not postgres and not slow"   (the engine alone)
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
python -m ruff check allgui tests benchmarks packaging
lint-imports --no-cache --no-logo
python -m mypy
python -m pytest -q -m "not slow" "$@"
