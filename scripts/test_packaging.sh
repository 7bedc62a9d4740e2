#!/usr/bin/env bash
# The slow packaging test: build the classify-only app with PyInstaller and
# run its self-test (prints size on disk and cold self-test time).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q "pyinstaller>=6.5"
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
python -m pytest -q -s -m slow tests/test_packaging.py "$@"
