"""The one Ctrl+C rule of the long commands: first stops cleanly, second quits."""

from __future__ import annotations

import signal
import threading

import pytest

from allgui.cli._interrupt import StopOnInterrupt


def test_first_ctrl_c_asks_to_stop_the_second_quits_and_the_handler_is_handed_back():
    before = signal.getsignal(signal.SIGINT)
    cancel, said = threading.Event(), []
    with StopOnInterrupt(cancel, "Stopping at the next batch.", said.append):
        signal.raise_signal(signal.SIGINT)
        assert cancel.is_set() and said == ["Stopping at the next batch."]
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_sigterm_too_when_asked():
    before, cancel = signal.getsignal(signal.SIGTERM), threading.Event()
    interrupt = StopOnInterrupt(cancel, "stop", lambda text: None,
                                (signal.SIGINT, signal.SIGTERM)).install()
    try:
        signal.raise_signal(signal.SIGTERM)
        assert cancel.is_set()
    finally:
        interrupt.restore()
    assert signal.getsignal(signal.SIGTERM) is before


def test_off_the_main_thread_nothing_is_taken():
    before = signal.getsignal(signal.SIGINT)
    seen = []

    def body():
        with StopOnInterrupt(threading.Event(), "stop"):
            seen.append(signal.getsignal(signal.SIGINT))

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert seen == [before]


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_kill_and_a_closed_terminal_stop_as_ctrl_c_does(name):
    """Issue 25, case 15: every long command's handler (installed with its
    defaults, as optimize, validate, classify and worker do) takes SIGTERM and
    SIGHUP as the first Ctrl+C: stop at the next batch, work kept."""
    import subprocess
    import sys

    if not hasattr(signal, name):
        pytest.skip(f"no {name} here")
    code = (
        "import signal, threading\n"
        "from allgui.cli._interrupt import StopOnInterrupt\n"
        "cancel = threading.Event()\n"
        "with StopOnInterrupt(cancel, 'Stopping at the next batch.'):\n"
        f"    signal.raise_signal(signal.{name})\n"
        "    print('asked to stop' if cancel.is_set() else 'not asked')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "asked to stop"
    assert "Stopping at the next batch." in done.stderr
