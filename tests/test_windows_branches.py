"""The Windows branches of worker processes, paths and signals, run here.

Windows is not available to the test suite, so each branch is forced where
that can be done honestly (whether a process lives is psutil's, the same code
on every platform, tested in test_study_lock.py): image decoding runs on the 'spawn'
start method, the only one Windows has; manifests written on Windows (with
backslashes) are read; the signals the commands install exist on Windows.
"""

from __future__ import annotations

import ast
import csv
import ntpath
import os
import shutil
from pathlib import Path

from allgui.core.dataset import parallel
from allgui.core.dataset.discover import discover

ALLGUI = Path(__file__).resolve().parents[1] / "allgui"


def _where(path: str) -> tuple[int, str]:
    return os.getpid(), ntpath.basename(path)


def test_image_work_runs_on_spawn_the_only_start_method_windows_has(monkeypatch):
    monkeypatch.setattr(parallel.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert parallel._context().get_start_method() == "spawn"
    items = [f"C:\\cells\\patient{i % 7}\\cell{i}.bmp" for i in range(parallel.MIN_PARALLEL)]
    got = parallel.map_items(_where, items, job="j", phase="p", workers=2, chunk=8)
    assert [name for _, name in got] == [f"cell{i}.bmp" for i in range(parallel.MIN_PARALLEL)]
    # In spawned workers, not the in-process fallback taken when workers cannot start.
    assert os.getpid() not in {pid for pid, _ in got}


def test_manifest_written_on_windows_with_backslashes(tmp_path, cnmc_samples):
    (tmp_path / "imgs" / "all").mkdir(parents=True)
    rows = []
    for src in sorted(cnmc_samples.glob("*/*.bmp")):
        shutil.copy(src, tmp_path / "imgs" / "all" / src.name)
        rows.append([f"imgs\\all\\{src.name}", src.parent.name])
    with open(tmp_path / "labels.csv", "w", newline="", encoding="utf-8-sig") as fh:
        csv.writer(fh).writerows([["path", "label"], *rows])  # Excel's BOM, too
    index = discover(tmp_path / "labels.csv")
    assert index.layout == "manifest" and len(index.records) == len(rows)
    assert not index.bad_files


WINDOWS_SIGNALS = {"SIGABRT", "SIGFPE", "SIGILL", "SIGINT", "SIGSEGV", "SIGTERM", "SIGBREAK"}


def _platform_guard(node: ast.If) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr in ("platform", "name")
               and isinstance(n.value, ast.Name) and n.value.id in ("sys", "os")
               for n in ast.walk(node.test))


def _signal_names(node: ast.AST, used: set[str]) -> None:
    """``signal.SIGx`` names used outside a branch for one platform."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _platform_guard(child):
            continue  # e.g. SIGKILL for Linux's prctl, under `if sys.platform...`
        if (isinstance(child, ast.Attribute) and isinstance(child.value, ast.Name)
                and child.value.id == "signal" and child.attr.startswith("SIG")
                and not child.attr.startswith("SIG_")):
            used.add(child.attr)
        _signal_names(child, used)


def test_commands_install_only_signals_windows_has():
    used: set[str] = set()
    for path in ALLGUI.rglob("*.py"):
        _signal_names(ast.parse(path.read_text(encoding="utf-8")), used)
    assert used, "the commands handle Ctrl+C"
    assert used <= WINDOWS_SIGNALS, f"not on Windows: {sorted(used - WINDOWS_SIGNALS)}"
