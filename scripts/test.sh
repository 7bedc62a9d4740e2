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
if [ $# -gt 0 ]; then
    python -m pytest -q -m "not slow" "$@"
    exit
fi
python -m pytest -q -m "not slow and not postgres"
# The shared-study tests (their own PostgreSQL server and worker processes) in a
# process of their own: after the rest of the suite in one process, the window's
# follow test timed out and the next optimize exited 2, while the file passes
# alone (7 of 7, twice); the cause is not found yet (see the sixth closing note).
python -m pytest -q -m "postgres and not slow" -p no:cacheprovider
