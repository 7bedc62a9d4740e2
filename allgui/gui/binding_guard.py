"""A guard against a reference-counting bug of PySide6 6.12 on Python 3.11.

That PySide6 returns None from each method that returns nothing
(``setText``, ``setItem``, ``insertRow``...) without taking a reference to
it, so every such call lowers None's count by one. On Python 3.12 and later
None is immortal and nothing happens; on 3.11 its count reaches zero after
some thousands of calls and Python aborts (``Fatal Python error:
none_dealloc``): opening a study of 5,000 trials was enough. Where the bug
is found (measured, not assumed from version numbers), None is given the
count of an object no program can release, as Python 3.12 does itself.
"""

from __future__ import annotations

import ctypes
import sys

_IMMORTAL = 1 << 40  # more void calls than a session makes in centuries
_guarded = False


def none_leaks() -> bool:
    """True when a PySide6 method that returns nothing lowers None's count."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(64):
        probe.setObjectName("allgui")
    return sys.getrefcount(None) < before - 32


def guard_none() -> bool:
    """Make None's count unreachable where :func:`none_leaks`; once per
    process. True when the guard was needed."""
    global _guarded
    if _guarded or sys.version_info >= (3, 12) or not none_leaks():
        return False
    # ob_refcnt is the first field of every CPython object (PyObject_HEAD)
    ctypes.c_ssize_t.from_address(id(None)).value += _IMMORTAL
    _guarded = True
    return True
