"""The Windows branches of locks, worker processes, paths and signals, run here.

Windows is not available to the test suite, so each branch is forced where
that can be done honestly: the study lock's liveness check runs its Windows
code against a stand-in for kernel32 that answers from this machine's real
process table with Win32's conventions; image decoding runs on the 'spawn'
start method, the only one Windows has; manifests written on Windows (with
backslashes) are read; the signals the commands install exist on Windows.
"""

from __future__ import annotations

import ast
import csv
import ctypes
import ntpath
import os
import shutil
import subprocess
import sys
import time
from ctypes import wintypes  # noqa: F401  (imported before os.name is forced)
from pathlib import Path

import pytest

from allgui.core.dataset import parallel
from allgui.core.dataset.discover import discover
from allgui.core.search import lock as sl

ALLGUI = Path(__file__).resolve().parents[1] / "allgui"

STILL_ACTIVE, ERROR_ACCESS_DENIED, ERROR_INVALID_PARAMETER = 259, 5, 87


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name: state first, exit code last."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        return fh.read().rsplit(")", 1)[1].split()


class Kernel32:
    """OpenProcess / GetExitCodeProcess / CloseHandle as Win32 defines them,
    answered from /proc: a process that has exited but whose handle is still
    held (here: a zombie) opens, and reports its exit code instead of
    STILL_ACTIVE; a pid that names no process fails with
    ERROR_INVALID_PARAMETER; pids in ``denied`` fail with ERROR_ACCESS_DENIED."""

    def __init__(self, denied: set[int] = frozenset(), exit_code_fails: bool = False):
        self.last_error = 0
        self.handles: dict[int, int] = {}
        self.closed: list[int] = []
        kernel = self

        def open_process(access, inherit, pid):
            assert access == 0x1000 and inherit is False  # PROCESS_QUERY_LIMITED_INFORMATION
            if pid in denied:
                kernel.last_error = ERROR_ACCESS_DENIED
                return None
            if not os.path.exists(f"/proc/{pid}"):  # str paths: os.name is "nt" here
                kernel.last_error = ERROR_INVALID_PARAMETER
                return None
            handle = 1000 + len(kernel.handles)
            kernel.handles[handle] = pid
            return handle

        def get_exit_code(handle, code_ref):
            if exit_code_fails:
                return 0
            fields = _stat(kernel.handles[handle])
            state, exit_status = fields[0], int(fields[-1])
            code_ref._obj.value = (exit_status >> 8) if state == "Z" else STILL_ACTIVE
            return 1

        def close_handle(handle):
            kernel.closed.append(handle)
            return 1

        # Plain functions, so the code under test can set .restype as on ctypes functions.
        self.OpenProcess, self.GetExitCodeProcess = open_process, get_exit_code
        self.CloseHandle = close_handle


@pytest.fixture
def on_windows(monkeypatch):
    """Run a call with ``os.name == "nt"`` and ``kernel`` as kernel32; os.kill
    must not be called (on Windows it would send the other process Ctrl+C)."""

    def run(kernel, fn, *args):
        monkeypatch.setattr(ctypes, "WinDLL", lambda name, use_last_error=False: kernel,
                            raising=False)
        monkeypatch.setattr(ctypes, "get_last_error", lambda: kernel.last_error, raising=False)
        with monkeypatch.context() as m:
            m.setattr(os, "kill", lambda *a: pytest.fail("os.kill called on Windows"))
            m.setattr(os, "name", "nt")
            return fn(*args)  # kept short: pathlib picks WindowsPath while os.name is "nt"

    return run


def test_windows_liveness_of_running_dead_and_exited_processes(on_windows):
    kernel = Kernel32()
    assert on_windows(kernel, sl.process_alive, os.getpid()) is True

    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    deadline = time.monotonic() + 10
    while _stat(child.pid)[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # Exited, not yet reaped: Windows still opens it and says it is not active.
    assert on_windows(kernel, sl.process_alive, child.pid) is False
    child.wait()
    assert on_windows(kernel, sl.process_alive, child.pid) is False  # gone: no handle at all
    assert on_windows(kernel, sl.process_alive, 0) is False
    assert sorted(kernel.closed) == sorted(kernel.handles), "every handle opened is closed"


def test_windows_liveness_when_denied_or_unsure_refuses(on_windows):
    # Another user's process: it exists; refusing the lock is the safe side.
    assert on_windows(Kernel32(denied={4242}), sl.process_alive, 4242) is True
    # The exit code cannot be read: assume it runs.
    kernel = Kernel32(exit_code_fails=True)
    assert on_windows(kernel, sl.process_alive, os.getpid()) is True
    assert kernel.closed == list(kernel.handles)


def test_windows_liveness_check_is_the_one_the_lock_uses(on_windows, monkeypatch):
    seen = []
    monkeypatch.setattr(sl, "_alive_windows", lambda pid: seen.append(pid) or False)
    monkeypatch.setattr(sl, "_alive_posix", lambda pid: pytest.fail("POSIX check on Windows"))
    assert on_windows(Kernel32(), sl.process_alive, 12345) is False
    assert seen == [12345]


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
