"""A project folder someone sends cannot change files elsewhere (issue 25,
case 5): a study storage outside the project named in its project.toml is
used only when this machine's user gave it; every other setting read from
project.toml is checked as untrusted."""

from __future__ import annotations

import sqlite3

import pytest

from allgui.cli import main
from allgui.core.errors import ProjectError
from allgui.core.project import CONFIG_NAME, Project


def _tables(db) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}


def _set_storage(project: Project, url: str) -> None:
    """What a project.toml made elsewhere says (written by hand, not by allgui)."""
    from allgui.core.files.tomlio import dumps, loads

    path = project.root / CONFIG_NAME
    data = loads(path.read_text())
    data["storage"] = url
    path.write_text(dumps(data))


@pytest.fixture()
def sent(tmp_path, make_tiny_project):
    return make_tiny_project(tmp_path)


def test_a_foreign_sqlite_database_named_in_project_toml_is_never_touched(sent, tmp_path,
                                                                          capsys):
    foreign = tmp_path / "elsewhere" / "someone.db"
    foreign.parent.mkdir()
    with sqlite3.connect(foreign) as conn:
        conn.execute("create table patients (id integer)")
    _set_storage(sent, f"sqlite:///{foreign}")
    assert main(["report", str(sent.root)]) != 0
    assert "outside the project" in capsys.readouterr().err
    assert _tables(foreign) == {"patients"}  # no Optuna table added
    with pytest.raises(ProjectError, match="never chose"):
        assert Project.open(sent.root).storage_url is None


def test_a_relative_path_out_of_the_project_creates_nothing(sent, tmp_path, capsys):
    _set_storage(sent, "sqlite:///../outside.db")
    assert main(["report", str(sent.root)]) != 0
    assert not (sent.root.parent / "outside.db").exists()
    _set_storage(sent, "sqlite:///inside/study.db")  # inside the project: its own business
    assert Project.open(sent.root).storage_url.endswith("/inside/study.db")


def test_a_database_server_is_used_once_this_machines_user_gave_it(sent, tmp_path,
                                                                   monkeypatch):
    url = "postgresql+psycopg2://alice@db.example.org:5432/allgui"
    _set_storage(sent, url)
    with pytest.raises(ProjectError, match="allgui optimize PROJECT --storage URL"):
        assert Project.open(sent.root).storage_url is None
    Project.open(sent.root).update(storage=url)  # what --storage and the window do
    assert Project.open(sent.root).storage_url == url
    monkeypatch.setenv("ALLGUI_HOME", str(tmp_path / "another_user"))
    with pytest.raises(ProjectError):  # another user (or machine) has not given it
        assert Project.open(sent.root).storage_url is None


HOSTILE = ("../../x", "/etc/passwd", "sqlite:////tmp/x.db", "postgresql://evil@h/db", "",
           "\x1b[2J", 10**30, -1, 1.5, True, [], {})


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_crafted_values_in_every_field_of_project_toml(sent, value, tmp_path):
    """Each setting allgui reads from project.toml, given a hostile value: the
    project is refused with a sentence, or opened with its study inside it."""
    from allgui.core.files.tomlio import dumps, loads

    path = sent.root / CONFIG_NAME
    original = loads(path.read_text())
    keys = [(None, k) for k in original if not isinstance(original[k], dict)]
    keys += [(s, k) for s, v in original.items() if isinstance(v, dict) for k in v]
    keys += [(None, "storage")]
    for section, key in keys:
        data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in original.items()}
        (data[section] if section else data)[key] = value
        try:
            path.write_text(dumps(data))
        except Exception:
            continue  # not even writable as TOML (a None, say)
        try:
            project = Project.open(sent.root)
            url = project.storage_url
        except ProjectError:
            continue
        if url.startswith("sqlite:///"):
            assert project.sqlite_path.resolve().is_relative_to(sent.root.resolve()), (key, value)
        else:
            pytest.fail(f"{section}.{key} = {value!r} opened a study outside the project")
    path.write_text(dumps(original))
