"""Before Qt starts: is there a display, and can Qt's X11 plugin load?

When a system library the X11 plugin needs is missing, Qt aborts the whole
process with a message about "the Qt platform plugin xcb" that names no
library. Checked here first, with ctypes, so the user reads one sentence that
names what is missing and the command that installs it. Nothing of Qt is
imported by this module.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from pathlib import Path

# The libraries Qt 6's xcb plugin links beyond libxcb itself, with the
# Debian/Ubuntu and Fedora packages that hold them.
XCB_LIBRARIES = (
    ("libxcb-cursor.so.0", "libxcb-cursor0", "xcb-util-cursor"),
    ("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms"),
    ("libxcb-image.so.0", "libxcb-image0", "xcb-util-image"),
    ("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil"),
    ("libxcb-shape.so.0", "libxcb-shape0", "libxcb"),
    ("libxcb-xkb.so.1", "libxcb-xkb1", "libxcb"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11"),
    ("libxcb.so.1", "libxcb1", "libxcb"),
    ("libX11-xcb.so.1", "libx11-xcb1", "libX11-xcb"),
    ("libEGL.so.1", "libegl1", "libglvnd-egl"),
    ("libfontconfig.so.1", "libfontconfig1", "fontconfig"),
    ("libdbus-1.so.3", "libdbus-1-3", "dbus-libs"),
)
_MISSING = re.compile(r"(lib[\w.+-]+\.so[\w.]*): cannot open shared object file")


def _loads(name: str) -> bool:
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def chosen_platform(env: dict[str, str] | None = None) -> str:
    """The platform plugin Qt will try first on Linux: 'xcb', 'wayland',
    'offscreen'..., or '' when there is no display at all."""
    env = dict(os.environ if env is None else env)
    if env.get("QT_QPA_PLATFORM"):
        return env["QT_QPA_PLATFORM"].split(":", 1)[0].split(";", 1)[0]
    if env.get("WAYLAND_DISPLAY") and (env.get("XDG_SESSION_TYPE") == "wayland"
                                       or not env.get("DISPLAY")):
        return "wayland"
    return "xcb" if env.get("DISPLAY") else ""


def _xcb_plugin() -> Path | None:
    try:
        import PySide6  # the package folder only: no Qt library is loaded by this
    except ImportError:
        return None
    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def window_problem(env: dict[str, str] | None = None, loads=_loads) -> str | None:
    """A sentence saying why the window cannot open here, or None when it can."""
    if not sys.platform.startswith("linux"):
        return None
    platform = chosen_platform(env)
    if platform == "":
        return ("No desktop display was found (neither DISPLAY nor WAYLAND_DISPLAY is set), so "
                "the window cannot open here. On a server, use the commands instead: "
                "allgui --help.")
    if platform != "xcb":
        return None
    missing = [(lib, deb, rpm) for lib, deb, rpm in XCB_LIBRARIES if not loads(lib)]
    plugin = _xcb_plugin()
    if not missing and plugin is not None:
        try:
            ctypes.CDLL(str(plugin))
        except OSError as exc:  # a library not in the table above
            found = _MISSING.search(str(exc))
            name = found.group(1) if found else str(exc)
            missing = [(name, name.split(".so")[0], name.split(".so")[0])]
    if not missing:
        return None
    names = ", ".join(lib for lib, _, _ in missing)
    debs = " ".join(deb for _, deb, _ in missing)
    rpms = " ".join(sorted({rpm for _, _, rpm in missing}))
    return (f"The window cannot open: the system {'library' if len(missing) == 1 else 'libraries'}"
            f" {names} {'is' if len(missing) == 1 else 'are'} missing. Install "
            f"{'it' if len(missing) == 1 else 'them'} with: sudo apt install {debs} "
            f"(Debian, Ubuntu) or sudo dnf install {rpms} (Fedora), then start allgui again.")
