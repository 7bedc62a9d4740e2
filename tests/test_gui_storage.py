"""The Optimize tab's study storage: set in the window, shown without its password."""

from __future__ import annotations

import pytest

from allgui.core.project import Project
from allgui.gui.optimize import follow as study_follow

from support.gui import wait_jobs, wait_until

pytestmark = pytest.mark.gui
# The storage label names the driver, and a PostgreSQL URL is opened through it:
# the `postgres` extra (or scripts/ci_postgres.sh) installs it, the README's
# commands do not.
pytest.importorskip("psycopg2", reason="psycopg2 is not installed (pip install -e \".[postgres]\")")


def test_storage_is_set_in_the_form_and_never_shows_a_password(window, qtbot, tmp_path,
                                                               captured, monkeypatch, caplog, make_demo_project):
    project = make_demo_project(tmp_path / "demo")
    window.open_project(project.root)
    wait_jobs(qtbot, window)
    tab = window.optimize_tab
    assert tab.storage_label.text() == "this project's study.db"
    assert not tab.follower.following  # SQLite: this window's own searches, no polling
    typed = []

    def answer(text):
        def get_text(parent, title, label, echo, current):
            typed.append(current)
            return text, True
        monkeypatch.setattr(study_follow.QInputDialog, "getText", get_text)

    # Port 1 on loopback: nothing listens, so the reads fail at once (and say so once).
    answer("postgresql://alice:s3cret@127.0.0.1:1/allgui")
    tab._change_storage()
    saved = Project.open(project.root).settings.storage
    assert saved == "postgresql+psycopg2://alice:s3cret@127.0.0.1:1/allgui"
    assert tab.storage_label.text() == "postgresql+psycopg2://alice:***@127.0.0.1:1/allgui"
    assert tab.follower.following
    wait_until(lambda: "Following the study: The study storage cannot" in caplog.text, 30_000)
    assert "alice:***@" in caplog.text and "s3cret" not in caplog.text
    answer("http://example.org/study")
    tab._change_storage()
    assert typed[-1] == tab.storage_label.text()  # the dialog too shows it masked
    assert captured.errors and "not a study storage" in captured.errors[-1][0]
    assert Project.open(project.root).settings.storage == saved  # a bad URL changes nothing
    answer("")
    tab._change_storage()
    assert Project.open(project.root).settings.storage == ""
    assert not tab.follower.following
    wait_jobs(qtbot, window)
    assert not any("s3cret" in m + d for m, d in captured.errors)
    assert "s3cret" not in caplog.text


def test_a_project_naming_a_foreign_database_opens_without_touching_it(window, qtbot, tmp_path,
                                                                       captured,
                                                                       make_demo_project):
    """Issue 25, case 5: a project folder from elsewhere whose project.toml keeps
    the study in a database outside it; the window opens the project and adds
    nothing to that database."""
    import sqlite3

    from allgui.core.files.tomlio import dumps, loads

    foreign = tmp_path / "someone.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("create table patients (id integer)")
    project = make_demo_project(tmp_path / "sent")
    data = loads(project.config_path.read_text())
    data["storage"] = f"sqlite:///{foreign}"
    project.config_path.write_text(dumps(data))
    window.open_project(project.root)
    wait_jobs(qtbot, window)
    window.optimize_tab.load_study()
    wait_jobs(qtbot, window)
    with sqlite3.connect(foreign) as conn:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    assert tables == {"patients"}
    assert any("outside the project" in m for m, _ in captured.errors)
