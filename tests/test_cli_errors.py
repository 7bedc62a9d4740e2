"""The command line says what went wrong in plain words, never with a traceback
(unless asked for with --debug)."""

from __future__ import annotations

import errno

import pytest

import allgui.core.dataset.discover as discover_module
from allgui.cli import main
from allgui.core.plain_errors import plain_message


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", "/data/cache")


def test_a_full_disk_is_a_plain_message(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(discover_module, "discover", _disk_full)
    assert main(["data", "scan", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "The disk is full (/data/cache)" in err
    assert "details: OSError: [Errno 28] No space left on device" in err
    assert "Traceback" not in err and "--debug" in err


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.setattr(discover_module, "discover", _disk_full)
    with pytest.raises(OSError, match="No space left"):
        main(["--debug", "data", "scan", str(tmp_path)])


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (PermissionError(errno.EACCES, "Permission denied", "/p/project.toml"),
         "not allowed to read or write /p/project.toml"),
        (OSError(errno.EROFS, "Read-only file system", "/mnt"), "read-only"),
        (MemoryError(), "computer ran out of memory"),
        (RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"), "GPU) ran out of memory"),
        (ValueError("odd"), "Something unexpected went wrong"),
    ],
)
def test_common_failures_in_words(error, words):
    message, details = plain_message(error)
    assert words in message
    assert type(error).__name__ in details


def test_a_lost_database_connection_is_said_as_such():
    """Issue 25, case 15: Optuna wraps a stopped PostgreSQL server's error as
    "invalid data in the commit"; allgui says the connection was lost."""
    pytest.importorskip("psycopg2", reason="psycopg2 is not installed (pip install -e '.[postgres]')")
    import sqlalchemy
    from optuna.exceptions import StorageInternalError

    from allgui.core.search.loop import end_message

    engine = sqlalchemy.create_engine("postgresql+psycopg2://alice@127.0.0.1:1/allgui",
                                      connect_args={"connect_timeout": 5})
    try:
        with pytest.raises(sqlalchemy.exc.OperationalError) as refused:
            engine.connect()
    finally:
        engine.dispose()
    try:  # what optuna's RDB storage raises on a failed commit
        raise StorageInternalError(
            "An exception is raised during the commit. This typically happens due to invalid "
            "data in the commit, e.g. exceeding max length. ") from refused.value
    except StorageInternalError as exc:
        wrapped = exc
    message, _ = plain_message(wrapped)
    assert "connection to the study's database was lost" in message
    assert "invalid data" not in message and "kept" in message
    assert "connection to the study's database was lost" in end_message(None, False, wrapped)
