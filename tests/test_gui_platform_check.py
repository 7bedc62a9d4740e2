"""Issue 14, item 8: on a desktop missing X11 libraries, `allgui` names them
and the packages to install, instead of Qt's abort."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from allgui.gui import platform_check as pc

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


def test_missing_xcb_libraries_are_named_with_their_packages():
    gone = {"libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"}
    text = pc.window_problem({"DISPLAY": ":0"}, loads=lambda name: name not in gone)
    assert text is not None
    for lib in gone:
        assert lib in text
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in text


def test_no_display_and_other_platforms():
    assert "No desktop display" in pc.window_problem({})
    assert pc.window_problem({"QT_QPA_PLATFORM": "offscreen"}) is None
    assert pc.window_problem({"WAYLAND_DISPLAY": "wayland-0"}) is None
    assert pc.chosen_platform({"DISPLAY": ":0", "WAYLAND_DISPLAY": "w",
                               "XDG_SESSION_TYPE": "wayland"}) == "wayland"


def test_allgui_without_a_display_says_so_and_exits_2():
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, "-m", "allgui"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "No desktop display" in done.stderr
