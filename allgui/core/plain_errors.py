"""Ordinary failures put in words a clinician can act on.

The window and the command line both show errors through :func:`plain_message`:
an :class:`AllguiError` carries its own words; anything else (a full disk, a
folder one may not write to, memory or GPU memory running out) is named here,
with the technical text kept as details. Torch-free and Qt-free, so both
front ends and the classify-only build can use it.
"""

from __future__ import annotations

import errno
import traceback

from allgui.core.errors import AllguiError

_KEPT = "finished work was kept"


def plain_message(error: BaseException | str) -> tuple[str, str]:
    """``(message, details)`` for any error; details hold the traceback for an
    unexpected one."""
    if isinstance(error, str):
        return error, ""
    if isinstance(error, AllguiError):
        return error.message, error.details
    details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return _words(error), details


def short_details(error: BaseException) -> str:
    """One line of technical details (the terminal's details line)."""
    if isinstance(error, AllguiError):
        return error.details
    return f"{type(error).__name__}: {error}"


# What database drivers say when the server went away (PostgreSQL stopped,
# network down); Optuna wraps it as "invalid data in the commit".
_CONNECTION_LOST = ("server closed the connection", "terminating connection",
                    "connection refused", "could not connect", "connection to server",
                    "connection already closed", "connection is closed",
                    "lost connection", "server has gone away", "ssl syscall error")


def database_connection_lost(error: BaseException) -> bool:
    """True when ``error`` (or what caused it) says the database connection was lost."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current).lower()
        if type(current).__name__ in ("OperationalError", "InterfaceError") and any(
                k in text for k in _CONNECTION_LOST):
            return True
        if any(k in text for k in _CONNECTION_LOST[:5]):
            return True
        current = current.__cause__ or current.__context__
    return False


def _words(error: BaseException) -> str:
    if database_connection_lost(error):
        return ("The connection to the study's database was lost (the database server "
                "stopped or cannot be reached). Every finished trial is kept in the "
                "database; run the same command again once the server is back.")
    text = str(error).lower()
    code = getattr(error, "errno", None)
    name = getattr(error, "filename", None)
    where = f" ({name})" if name else ""
    if isinstance(error, MemoryError) or "out of memory" in text:
        gpu = "cuda" in text or "gpu" in text or "mps" in text
        return (
            f"The {'graphics card (GPU)' if gpu else 'computer'} ran out of memory. Try a "
            f"smaller batch size, smaller images or a smaller backbone; {_KEPT}."
        )
    if isinstance(error, OSError):
        if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
            return f"The disk is full{where}. Free some space and try again; {_KEPT}."
        if code == errno.EROFS:
            return f"The disk is read-only{where}. Choose another folder; {_KEPT}."
        if isinstance(error, PermissionError):
            return f"allgui is not allowed to read or write {name or 'a file it needs'}."
        if isinstance(error, FileNotFoundError):
            return f"A file or folder is missing: {name or error}."
        return f"A file could not be read or written{where}: {error.strerror or error}."
    return (
        "Something unexpected went wrong. Finished work was kept; the details "
        "help a developer find the cause."
    )
