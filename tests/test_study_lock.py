"""The project's search lock: one search at a time, taken atomically, stale
locks of dead processes replaced; whether a process lives (psutil, no signal
sent, the same code on every platform)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from allgui.core.errors import ProjectError
from allgui.core.search import liveness
from allgui.core.search import lock as sl

from support.processes import dead_pid


def test_liveness_of_this_and_a_finished_process():
    assert liveness.process_alive(os.getpid())
    assert not liveness.process_alive(dead_pid())
    assert not liveness.process_alive(0) and not liveness.process_alive(-1)


@pytest.mark.skipif(not hasattr(os, "waitid"), reason="needs os.waitid (POSIX)")
def test_an_ended_process_not_yet_reaped_is_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    try:
        # Blocks until the child has ended, leaving it unreaped (a zombie).
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
        assert not liveness.process_alive(child.pid)
        assert not liveness.same_process(child.pid, None)
    finally:
        child.wait()


def test_a_live_process_is_named_by_its_id_and_creation_time():
    # What a lock or batch.json records: a reused ID has another creation time,
    # on every platform (before, only Linux's /proc could tell, so on macOS and
    # Windows a reused ID read as a live search and the search was refused).
    started = liveness.process_started(os.getpid())
    assert isinstance(started, float)
    assert liveness.same_process(os.getpid(), started)
    assert not liveness.same_process(os.getpid(), started - 60)
    assert liveness.same_process(os.getpid(), None)  # no time recorded: by its ID
    assert not liveness.same_process(dead_pid(), started)


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
    lock.write_text(json.dumps({"pid": dead_pid(), "host": socket.gethostname()}))
    # Each process waits for "go" on its stdin, tries the lock and says how it
    # went; the winner holds the lock until every other one has answered.
    script = textwrap.dedent(f"""
        import sys
        from allgui.core.errors import ProjectError
        from allgui.core.search.lock import study_lock
        sys.stdin.readline()
        try:
            with study_lock({str(lock)!r}):
                print("won", flush=True)
                sys.stdin.readline()
        except ProjectError:
            print("refused", flush=True)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(6)]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    outputs = [p.stdout.readline().strip() for p in procs]
    for p in procs:
        p.communicate("release\n", timeout=60)
    assert sorted(outputs) == ["refused"] * 5 + ["won"]
    assert not lock.exists()


def test_a_lock_whose_pid_was_reused_is_stale_and_a_live_one_names_its_file(tmp_path):
    """Case 24: a lock left by a dead search whose PID now belongs to another
    process (another start time) is taken over; a live holder's refusal names
    the lock file to delete."""
    lock = tmp_path / "search.lock"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        started = liveness.process_started(other.pid)
        assert started is not None
        lock.write_text(json.dumps({"pid": other.pid, "host": socket.gethostname(),
                                    "started": started - 1}))
        with sl.study_lock(lock):
            assert json.loads(lock.read_text())["pid"] == os.getpid()
        lock.write_text(json.dumps({"pid": other.pid, "host": socket.gethostname(),
                                    "started": started}))
        with pytest.raises(ProjectError, match=str(lock)), sl.study_lock(lock):
            pass
    finally:
        other.kill()
        other.wait()
