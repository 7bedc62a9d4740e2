#!/usr/bin/env bash
# allgui's Optuna tests against the lowest and the highest Optuna that
# pyproject.toml allows (tests/test_optuna_api.py keeps the range bounded).
# Each Optuna is installed from PyPI, without its dependencies (the active
# environment has them), into a folder of its own put first on PYTHONPATH; the
# version imported is checked before the tests run.
#
#   scripts/optuna_bounds.sh            the lowest, then the highest
#   scripts/optuna_bounds.sh lowest     one of them (lowest or highest)
#
# Run it in an environment set up as the README says (pip install -e ".[cpu]"
# and requirements-dev.txt). It needs PyPI, so it is not part of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"

# The tests that drive Optuna: studies, their records and values, the search
# and its pruners, importances, sampler comparisons, the shared study (skipped
# without a PostgreSQL server), the study views and the report's search part.
TESTS=(
    tests/test_optuna_api.py tests/test_study_record.py tests/test_study_values.py
    tests/test_importance_estimate.py tests/test_search_curves.py tests/test_search.py
    tests/test_samplers.py tests/test_cli_optimize.py tests/test_study_lock.py
    tests/test_report_beside.py tests/test_gui_study_views.py tests/test_gui_plots.py
    tests/test_workers_postgres.py
)

# "lowest": optuna==<the >= bound>; "highest": the newest release the
# requirement allows, as pip would install it for a user today.
requirement() {
    "$PYTHON" - "$1" <<'PY'
import sys
from packaging.requirements import Requirement
from allgui.core.files.tomlio import loads

deps = loads(open("pyproject.toml", encoding="utf-8").read())["project"]["dependencies"]
req = next(Requirement(r) for r in deps if Requirement(r).name == "optuna")
if sys.argv[1] == "lowest":
    print("optuna==" + next(s.version for s in req.specifier if s.operator == ">="))
else:
    print(f"optuna{req.specifier}")
PY
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for bound in "${@:-lowest highest}"; do
    for which in $bound; do
        case "$which" in lowest|highest) ;; *) echo "say lowest or highest, not '$which'" >&2; exit 2;; esac
        wanted="$(requirement "$which")"
        target="$work/$which"
        "$PYTHON" -m pip install -q --disable-pip-version-check --no-deps --target "$target" "$wanted"
        got="$(PYTHONPATH="$target" "$PYTHON" -c 'import optuna; print(optuna.__version__)')"
        where="$(PYTHONPATH="$target" "$PYTHON" -c 'import optuna; print(optuna.__file__)')"
        case "$where" in "$target"/*) ;; *) echo "optuna came from $where, not $target" >&2; exit 1;; esac
        echo "optuna_bounds: $which ($wanted): Optuna $got"
        PYTHONPATH="$target:$PWD${PYTHONPATH:+:$PYTHONPATH}" \
            "$PYTHON" -m pytest -q -p no:cacheprovider "${TESTS[@]}"
    done
done
