"""Worker processes never outlive the process that started them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from allgui.core.dataset import parallel

# A cache build whose workers block for ever: each "image" is a FIFO nobody writes.
BUILD = textwrap.dedent(
    """
    import os, sys
    from allgui.core.dataset import parallel
    from allgui.core.dataset.cache import ImageCache

    if __name__ == "__main__":
        parallel.MIN_PARALLEL = 1
        folder = sys.argv[1]
        paths = []
        for k in range(8):
            paths.append(os.path.join(folder, f"slow{k}.png"))
            os.mkfifo(paths[-1])
        ImageCache(os.path.join(folder, "cache"), 8, workers=2).build(paths)
    """
)


def _session(sid: int) -> list[str]:
    """Command lines of the live processes in session ``sid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append(cmd)
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_during_a_cache_build_leaves_no_process(tmp_path):
    script = tmp_path / "build.py"
    script.write_text(BUILD)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], env=env,
                            start_new_session=True, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        # main, resource tracker, fork server and at least one worker
        while len(_session(proc.pid)) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any("forkserver" in c for c in _session(proc.pid))
        time.sleep(0.5)  # the workers are now blocked opening their FIFOs
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 5
        while _session(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _session(proc.pid) == []
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _fail(item: int, main_pid: int) -> int:
    if os.getpid() == main_pid:
        raise AssertionError("redone in this process as if workers could not start")
    if item == 70:
        raise OSError(28, "No space left on device", "/cache")
    return item


def test_an_error_of_the_work_is_raised_not_retried_in_process():
    with pytest.raises(OSError) as caught:
        parallel.map_items(_fail, list(range(100)), (os.getpid(),), job="t", phase="p", workers=2)
    assert caught.value.errno == 28 and caught.value.filename == "/cache"
