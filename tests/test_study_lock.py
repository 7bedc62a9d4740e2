"""The project's search lock: one search at a time, taken atomically, stale
locks of dead processes replaced, no signal sent to check a process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from allgui.core.errors import ProjectError
from allgui.core.search import lock as sl


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_liveness_of_this_and_a_finished_process():
    assert sl.process_alive(os.getpid())
    assert not sl.process_alive(_dead_pid())
    assert not sl.process_alive(0) and not sl.process_alive(-1)


def test_live_holder_refused_dead_holder_replaced(tmp_path):
    lock = tmp_path / ".search.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        lock.write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname()}))
        with pytest.raises(ProjectError, match=f"process {holder.pid}"), sl.study_lock(lock):
            pass
        assert json.loads(lock.read_text())["pid"] == holder.pid  # left as it was
    finally:
        holder.kill()
        holder.wait()
    with sl.study_lock(lock):  # its holder died: taken over
        assert json.loads(lock.read_text())["pid"] == os.getpid()
        with pytest.raises(ProjectError, match="already running"), sl.study_lock(lock):
            pass
    assert not lock.exists()


def test_other_computer_is_refused(tmp_path):
    lock = tmp_path / ".search.lock"
    lock.write_text(json.dumps({"pid": 1, "host": socket.gethostname() + "-elsewhere"}))
    with pytest.raises(ProjectError, match="another computer"), sl.study_lock(lock):
        pass


def test_racing_processes_on_a_stale_lock_exactly_one_wins(tmp_path):
    lock = tmp_path / ".search.lock"
    lock.write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname()}))
    go = tmp_path / "go"
    script = textwrap.dedent(f"""
        import os, sys, time
        from pathlib import Path
        from allgui.core.errors import ProjectError
        from allgui.core.search.lock import study_lock
        while not Path({str(go)!r}).exists():
            time.sleep(0.005)
        try:
            with study_lock({str(lock)!r}):
                time.sleep(4)
                print("won")
        except ProjectError:
            print("refused")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
             for _ in range(6)]
    go.touch()
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert sorted(outputs) == ["refused"] * 5 + ["won"]
    assert not lock.exists()


def test_a_lock_whose_pid_was_reused_is_stale_and_a_live_one_names_its_file(tmp_path):
    """Case 24: a lock left by a dead search whose PID now belongs to another
    process (another start time) is taken over; a live holder's refusal names
    the lock file to delete."""
    lock = tmp_path / "search.lock"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        started = sl.process_started(other.pid)
        if started is None:
            pytest.skip("process start times cannot be read on this system")
        lock.write_text(json.dumps({"pid": other.pid, "host": socket.gethostname(),
                                    "started": str(int(started) - 1)}))
        with sl.study_lock(lock):
            assert json.loads(lock.read_text())["pid"] == os.getpid()
        lock.write_text(json.dumps({"pid": other.pid, "host": socket.gethostname(),
                                    "started": started}))
        with pytest.raises(ProjectError, match=str(lock)), sl.study_lock(lock):
            pass
    finally:
        other.kill()
        other.wait()
