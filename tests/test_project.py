from __future__ import annotations

import dataclasses
import os
import stat

import pytest

from allgui.core.errors import ProjectError
from allgui.core.files.atomic import atomic_open, atomic_write_text
from allgui.core.files.tomlio import dumps, loads
from allgui.core.project import Project, ProjectSettings, SplitSettings


def test_settings_round_trip_through_toml(tmp_path):
    settings = ProjectSettings(
        split=SplitSettings(method="cnmc-folds", seed=7),
        search={"trials": 20, "lr": {"low": 1e-5, "high": 1e-2, "log": True}, "tags": ["a", "b"]},
    )
    project = Project.create(tmp_path / "p", settings)
    reopened = Project.open(tmp_path / "p")
    assert reopened.settings == settings
    assert reopened.settings.split.seed == 7
    assert reopened.study_path == (tmp_path / "p" / "study.db").resolve()
    assert project.storage_url.startswith("sqlite:///")


def test_update_replaces_a_section_and_saves(tmp_path):
    project = Project.create(tmp_path / "p", ProjectSettings())
    project.update(split=dataclasses.replace(project.settings.split, val_fraction=0.3))
    assert Project.open(tmp_path / "p").settings.split.val_fraction == 0.3


def test_a_users_comments_in_project_toml_survive_an_update(tmp_path):
    project = Project.create(tmp_path / "p", ProjectSettings())
    text = project.config_path.read_text(encoding="utf-8")
    assert "[split]" in text and "val_fraction = " in text
    text = text.replace("[split]", "# note: split agreed with the lab on 3 May\n[split]")
    text = text.replace("\nval_fraction = ", "\n# the paper's value\nval_fraction = ")
    project.config_path.write_text(text, encoding="utf-8")
    project.update(split=dataclasses.replace(project.settings.split, val_fraction=0.3, seed=11))
    after = project.config_path.read_text(encoding="utf-8")
    assert "# note: split agreed with the lab on 3 May\n[split]" in after
    assert "# the paper's value\nval_fraction = 0.3" in after
    assert Project.open(tmp_path / "p").settings.split.seed == 11


def test_a_failed_save_leaves_the_settings_as_they_were(tmp_path):
    project = Project.create(tmp_path / "p", ProjectSettings())
    before = project.settings
    # A folder where project.toml should be: the save fails as on a read-only or full disk.
    project.config_path.unlink()
    project.config_path.mkdir()
    with pytest.raises(ProjectError, match="could not be saved"):
        project.update(split=dataclasses.replace(before.split, val_fraction=0.3))
    assert project.settings == before


def test_opening_a_folder_that_is_not_a_project_says_so(tmp_path):
    with pytest.raises(ProjectError, match="not an allgui project"):
        Project.open(tmp_path)


def test_unknown_settings_are_reported(tmp_path):
    (tmp_path / "project.toml").write_text('[split]\nmethod = "patient"\nfoo = 1\n')
    with pytest.raises(ProjectError, match="foo"):
        Project.open(tmp_path)


def test_creating_over_an_existing_project_is_refused(tmp_path):
    Project.create(tmp_path, ProjectSettings())
    with pytest.raises(ProjectError, match="already holds a project"):
        Project.create(tmp_path, ProjectSettings())


def test_toml_writer_escapes_strings():
    text = dumps({"dataset": {"path": 'C:\\data\\"cells"\n'}})
    assert loads(text)["dataset"]["path"] == 'C:\\data\\"cells"\n'


@pytest.mark.skipif(os.name == "nt", reason="Windows syncs no folder (NTFS journals renames)")
def test_an_atomic_write_flushes_its_folder_after_the_rename(tmp_path, monkeypatch):
    # The rename lives in the folder's entry: without flushing the folder, a
    # power cut can bring the old file back.
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append((stat.S_ISDIR(os.fstat(fd).st_mode), (tmp_path / "project.toml").exists()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    atomic_write_text(tmp_path / "project.toml", "x = 1\n")
    assert synced == [(False, False), (True, True)]  # the file, then its renamed entry


def test_failed_atomic_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "model.onnx"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_open(target, "w") as fh:
        fh.write("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_atomic_writes_are_readable_by_others_as_open_would_make_them(tmp_path):
    import os
    import stat

    target = tmp_path / "report.html"
    atomic_write_text(target, "x")
    plain = tmp_path / "plain.html"
    plain.write_text("x")
    assert stat.S_IMODE(os.stat(target).st_mode) == stat.S_IMODE(os.stat(plain).st_mode)
