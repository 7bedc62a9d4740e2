"""A fresh machine with the README's commands: a test that needs a part they do
not install skips, saying why, instead of failing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _tests_naming(word: str) -> list[str]:
    return sorted(str(p.relative_to(REPO)) for p in (REPO / "tests").glob("test_*.py")
                  if word in p.read_text(encoding="utf-8") and p.name != Path(__file__).name)


def test_every_test_that_needs_psycopg2_skips_without_it(tmp_path):
    # Every test file that speaks of PostgreSQL, run where `import psycopg2` fails
    # as it does after `pip install -e ".[cpu]" -r requirements-dev.txt`.
    files = _tests_naming("postgres")
    assert "tests/test_gui_storage.py" in files
    (tmp_path / "no_psycopg2.py").write_text("import sys\nsys.modules['psycopg2'] = None\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)]),
           "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no_psycopg2", "-p", "no:cacheprovider",
         *files], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "failed" not in result.stdout
    assert "psycopg2 is not installed" in result.stdout  # the skip says why
