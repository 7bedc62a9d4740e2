#!/usr/bin/env bash
# CI: what tests/test_workers_postgres.py needs, on a fresh Debian machine:
# PostgreSQL's server binaries (Debian's 'postgresql' package) and the
# psycopg2 driver in the active environment. The tests start their own
# throwaway server on loopback; without binaries they are skipped, saying why.
set -uo pipefail

have_server() {
    command -v initdb >/dev/null 2>&1 || [ -x /usr/local/bin/initdb ] \
        || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

if ! have_server && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q postgresql >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q postgresql >/dev/null 2>&1; }
fi
if have_server; then
    echo "ci_postgres: PostgreSQL server binaries found"
else
    echo "ci_postgres: no PostgreSQL server binaries; the shared-study tests will be skipped" >&2
fi
python -m pip install -q "psycopg2-binary>=2.9" \
    || echo "ci_postgres: psycopg2-binary could not be installed; the tests will be skipped" >&2
exit 0
