"""Where a study lives: an SQLite file in the project (the default) or a
database server given by URL (``postgresql://user@host:5432/db``), shared by
workers on several machines.

A URL may hold a password; it is never shown: :func:`mask_url` is what every
message, log line, report and printout uses. (Better still, keep the password
out of the URL: PostgreSQL's client reads ``~/.pgpass`` and ``PGPASSWORD``.)
"""

from __future__ import annotations

import importlib.util
import re
import warnings
from typing import Any
from urllib.parse import urlsplit

from allgui.core.errors import ProjectError

SCHEMES = ("sqlite", "postgresql", "postgres", "mysql")
_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*):(?P<secret>[^@\s]*)@", re.I)


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (also inside longer text)."""
    return _PASSWORD.sub(lambda m: f"{m.group('head')}:***@", url or "")


def scheme(url: str) -> str:
    """'sqlite', 'postgresql', 'mysql'... (the driver after '+' left out)."""
    return urlsplit(url).scheme.split("+", 1)[0].lower()


def is_database_url(url: str) -> bool:
    """True for a study on a database server (shared by workers); False for SQLite."""
    return bool(url) and scheme(url) not in ("", "sqlite")


def normalize_storage_url(url: str) -> str:
    """Check a storage URL a user typed and name the driver allgui installs
    (psycopg2) for PostgreSQL. '' stays '' (the project's own study.db)."""
    url = (url or "").strip()
    if not url:
        return ""
    kind = scheme(url)
    if kind not in SCHEMES:
        raise ProjectError(
            f"'{mask_url(url)}' is not a study storage allgui can use; give a URL such as "
            "postgresql://user@server:5432/database, or leave it empty for the project's "
            "own study.db."
        )
    parts = urlsplit(url)
    if kind != "sqlite" and not (parts.hostname or "host=" in parts.query):
        raise ProjectError(f"'{mask_url(url)}' names no server (postgresql://user@SERVER/db).")
    if kind != "sqlite" and not parts.path.strip("/"):
        raise ProjectError(f"'{mask_url(url)}' names no database (postgresql://user@host/DB).")
    return with_driver(url)


def with_driver(url: str) -> str:
    """A PostgreSQL URL naming the driver that is installed: SQLAlchemy's
    default is psycopg 3, allgui's ``postgres`` extra installs psycopg2.
    Any other URL is returned as it is."""
    head, sep, rest = (url or "").partition("://")
    if sep and head.lower() in ("postgresql", "postgres"):
        driver = "psycopg2" if _has("psycopg2") or not _has("psycopg") else "psycopg"
        return f"postgresql+{driver}://{rest}"
    return url


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def open_storage(url: str, heartbeat_s: int | None = None, grace_s: int | None = None,
                 on_stale=None):
    """An Optuna RDBStorage on ``url``; with ``heartbeat_s`` each running trial
    beats, and one silent for ``grace_s`` is failed and handed to ``on_stale``
    (a callback ``(study, frozen_trial)``). Errors never show the password."""
    import optuna

    url = normalize_storage_url(url)
    kwargs: dict[str, Any] = {}
    if scheme(url) == "sqlite":
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    else:
        kwargs["engine_kwargs"] = {"pool_pre_ping": True}  # a server restart is survived
        if scheme(url) == "postgresql":  # a server out of reach is said in seconds, not minutes
            kwargs["engine_kwargs"]["connect_args"] = {"connect_timeout": 10}
    if heartbeat_s:
        kwargs.update(heartbeat_interval=int(heartbeat_s),
                      grace_period=int(grace_s or 2 * heartbeat_s),
                      heartbeat_stale_trial_callback=on_stale)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna calls heartbeats experimental
            return optuna.storages.RDBStorage(url, **kwargs)
    except ImportError as exc:
        raise ProjectError(
            "The database driver is missing; install it with: pip install psycopg2-binary "
            "(or: pip install 'allgui[postgres]').", mask_url(str(exc))) from exc
    except Exception as exc:  # connection refused, bad password, no such database...
        raise ProjectError(f"The study storage cannot be opened ({mask_url(url)}).",
                           mask_url(f"{type(exc).__name__}: {exc}")) from exc
