"""Builds the classify-only desktop app with PyInstaller and runs its self-test.

Slow (minutes): marked ``slow`` and run by ``scripts/test_packaging.sh``, not
on every CI run. Prints the build's size on disk and the self-test's wall
time from a cold start.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


@pytest.mark.skipif(importlib.util.find_spec("PyInstaller") is None,
                    reason="PyInstaller is not installed (pip install pyinstaller)")
def test_classify_build_has_no_torch_and_passes_its_self_test(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, str(REPO / "packaging" / "build.py"), "--flavour", "classify",
         "--dist", str(dist), "--work", str(tmp_path / "work"), "--skip-self-test"],
        check=True, cwd=REPO,
    )
    app = dist / "allgui-classify"
    internal = app / "_internal"
    collected = {p.name.split(".")[0] for p in internal.iterdir()}
    assert not {"torch", "timm", "optuna"} & collected

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    version = subprocess.run([str(app / "allgui"), "--version"], capture_output=True, text=True,
                             env=env, timeout=120)
    assert version.returncode == 0, version.stderr
    assert "build: classify:" in version.stdout
    assert "torch: not included in this build" in version.stdout
    providers = [line for line in version.stdout.splitlines() if "execution providers:" in line]
    assert providers and "CPU" in providers[0]

    started = time.perf_counter()
    result = subprocess.run(
        [str(app / "allgui"), "--self-test"], capture_output=True, text=True,
        env=env, timeout=120,
    )
    cold_s = time.perf_counter() - started
    print(result.stdout)
    print(f"classify build: {_size(app) / 2**20:.0f} MB on disk; self-test {cold_s:.1f} s cold")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "training engine: absent" in result.stdout
