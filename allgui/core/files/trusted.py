"""Values a user gave on this machine, remembered here so that a project
file made elsewhere cannot supply them.

A project's study may live outside its folder (a PostgreSQL server shared
by workers, an SQLite file elsewhere). A project folder someone sends could
name any database in its project.toml, and opening it would add Optuna's
tables there; so such a location is used only when this machine's user gave
it (``--storage`` on the command line, the window's storage field, or a
project made here with it). The list lives in ``~/.allgui/trusted-storage``
(``ALLGUI_HOME`` moves the folder), one location per line, passwords left out.
"""

from __future__ import annotations

import os
from pathlib import Path

from allgui.core.files.atomic import atomic_write_text

FILE_NAME = "trusted-storage"


def home() -> Path:
    """allgui's folder for what belongs to this machine's user."""
    return Path(os.environ.get("ALLGUI_HOME") or Path.home() / ".allgui")


def _key(url: str) -> str:
    """``url`` without its password (never written to disk)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url.strip())
    if parts.password is None:
        return url.strip()
    host = parts.hostname or ""
    netloc = (f"{parts.username}@" if parts.username else "") + host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _read() -> set[str]:
    try:
        text = (home() / FILE_NAME).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return set()
    return {line.strip() for line in text.splitlines() if line.strip()}


def trust(url: str) -> None:
    """Remember ``url`` as given by this machine's user (quietly kept in memory
    only when the folder cannot be written: the user is told when it is used)."""
    key = _key(url)
    known = _read()
    if not key or key in known:
        return
    try:
        atomic_write_text(home() / FILE_NAME, "\n".join(sorted(known | {key})) + "\n")
    except OSError:
        _SESSION.add(key)


def trusted(url: str) -> bool:
    key = _key(url)
    return key in _SESSION or key in _read()


_SESSION: set[str] = set()
