"""Validation batches on disk as untrusted records (issue 25, cases 1, 3, 4
and 10): two batches started in the same second never share a folder; a
batch.json whose names or paths lead elsewhere is refused, so export and
report never write outside the project nor export another project's model;
a continued batch runs again a run whose files were deleted."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from allgui.cli import main
from allgui.core.dataset.prepared import prepare_project_data
from allgui.core.errors import ProjectError
from allgui.core.validation import plan as plan_module
from allgui.core.validation.batch import BATCH_FILE, list_batches, load_batch
from allgui.core.validation.run import ValidationSettings, run_batch
from allgui.core.validation.run_record import TUNED

from support.batches import interrupted_in_run

torch.set_num_threads(1)
TINY = {"lr": 3e-3, "hidden": 16, "batch_size": 16}
ONE = ValidationSettings(runs=1, epochs=1, params=TINY, probe=False)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, make_tiny_project):
    """A project with one finished one-run batch, made once for the module."""
    root = tmp_path_factory.mktemp("batch")
    project = make_tiny_project(root)
    batch = run_batch(project, ONE, prepared=prepare_project_data(project))
    return project, batch


@pytest.fixture()
def copy(finished, tmp_path):
    """A copy of that project (its batch inside), to craft freely."""
    project, batch = finished
    shutil.copytree(project.root.parent, tmp_path / "copy", symlinks=True)
    from allgui.core.project import Project

    copied = Project.open(tmp_path / "copy" / "project")
    return copied, copied.runs_dir / batch.batch_id


def _record(folder):
    return json.loads((folder / BATCH_FILE).read_text())


def _write(folder, data):
    (folder / BATCH_FILE).write_text(json.dumps(data))


def test_two_batches_started_in_the_same_second_get_a_folder_each(tmp_path, make_tiny_project,
                                                                  monkeypatch):
    project = make_tiny_project(tmp_path)
    prepared = prepare_project_data(project)
    # Both commands ask for the same name, as two `allgui validate` started in one second do.
    monkeypatch.setattr(plan_module, "new_batch_id", lambda *args: "20260101-120000")
    first = run_batch(project, ONE, prepared=prepared)
    second = run_batch(project, ValidationSettings(runs=1, epochs=1, params=TINY, probe=False,
                                                   first_seed=7), prepared=prepared)
    assert first.path != second.path
    assert {b.batch_id for b in list_batches(project)} == {first.batch_id, second.batch_id}
    assert load_batch(first.path).seeds == (0,) and load_batch(second.path).seeds == (7,)
    for batch in (first, second):
        (run,) = load_batch(batch.path).runs_of(TUNED)
        assert run.checkpoint.is_file() and run.checkpoint.parent.parent == batch.path
        saved = torch.load(run.checkpoint, map_location="cpu", weights_only=False)
        assert saved["extra"]["batch"] == batch.batch_id  # each folder holds its own weights


def test_a_run_folder_naming_another_project_is_refused_by_export(copy, tmp_path, capsys):
    project, folder = copy
    elsewhere = tmp_path / "another_project" / "runs" / "x" / "run-1"
    shutil.copytree(folder / "run-1", elsewhere)
    data = _record(folder)
    data["runs"][0]["folder"] = str(elsewhere)  # an absolute path: another project's run
    _write(folder, data)
    assert main(["export", str(project.root)]) != 0
    assert "batch.json" in capsys.readouterr().err
    assert not list(project.models_dir.glob("*.onnx"))
    with pytest.raises(ProjectError, match="not a plain name"):
        load_batch(folder)


def test_a_crafted_batch_id_never_writes_outside_the_project(copy, tmp_path):
    project, folder = copy
    data = _record(folder)
    data["batch_id"] = "../../escape_dir/pwn"
    _write(folder, data)
    before = {p for p in tmp_path.rglob("*") if not p.is_relative_to(project.root)}
    main(["export", str(project.root)])
    main(["report", str(project.root)])
    after = {p for p in tmp_path.rglob("*") if not p.is_relative_to(project.root)}
    assert after == before  # nothing made outside the project, 'escape_dir' least of all
    assert not (tmp_path.parent / "escape_dir").exists()


CRAFTED = ("../../escape", "/etc", "..", "", None, 7, [], {"a": 1}, "run-1/../../x",
           "\x1b[2Jrun", "C:\\Windows", "a" * 5000)


@pytest.mark.parametrize("value", CRAFTED, ids=repr)
def test_crafted_values_in_every_field_of_batch_json_stay_inside_the_batch(copy, value):
    """Every field allgui reads from batch.json, one at a time, given a hostile
    value: the batch is refused (a sentence), or read with every path it
    yields inside its own folder."""
    project, folder = copy
    original = _record(folder)
    fields = [("top", k) for k in original] + [("run", k) for k in original["runs"][0]]
    for where, key in fields:
        data = json.loads(json.dumps(original))
        (data if where == "top" else data["runs"][0])[key] = value
        _write(folder, data)
        try:
            batch = load_batch(folder)
        except ProjectError:
            continue
        assert batch.path == folder.resolve() and batch.batch_id == folder.name
        for run in batch.runs:
            assert run.checkpoint.resolve().is_relative_to(folder.resolve()), (key, value)
            assert run.predictions_path.resolve().is_relative_to(folder.resolve())
        list_batches(project)  # never raises: a damaged batch is left out
    _write(folder, original)


def test_a_continued_batch_runs_again_a_run_whose_folder_was_deleted(tmp_path,
                                                                     make_tiny_project):
    project = make_tiny_project(tmp_path)
    prepared = prepare_project_data(project)
    two = ValidationSettings(runs=2, epochs=1, params=TINY, probe=False)
    stopped = interrupted_in_run(project, two, prepared, run=2)
    (kept,) = stopped.runs_of(TUNED)
    shutil.rmtree(kept.checkpoint.parent)  # the user deleted run 1's folder
    batch = run_batch(project, two, prepared=prepared, resume=True)
    runs = batch.runs_of(TUNED)
    assert [r.index for r in runs] == [1, 2]
    assert all(r.checkpoint.is_file() and r.predictions_path.is_file() for r in runs)
