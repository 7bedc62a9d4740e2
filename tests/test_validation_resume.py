"""A validation batch ended early (Ctrl+C, a full disk, kill -9) keeps its
finished runs in batch.json, reads as interrupted once its process is gone,
and the same settings continue it (issue 13, cases 1 and 24)."""

from __future__ import annotations

import errno
import json
import subprocess
import sys

import pytest
import torch

from allgui.core.dataset.prepared import prepare_project_data
from allgui.core.events import EpochEnded, EventLog, Notice, RunFinished
from allgui.core.files import atomic
from allgui.core.validation.batch import BATCH_FILE, list_batches, load_batch
from allgui.core.validation.process import process_gone, this_process
from allgui.core.validation.run import ValidationSettings, run_batch
from allgui.core.validation.run_record import TUNED

from support.batches import interrupted_in_run
from support.processes import dead_pid

torch.set_num_threads(1)
TINY = {"lr": 3e-3, "hidden": 16, "batch_size": 16}
TWO = ValidationSettings(runs=2, epochs=1, params=TINY)


@pytest.fixture()
def demo(tmp_path, make_tiny_project):
    project = make_tiny_project(tmp_path)
    return project, prepare_project_data(project)


def _dead_process() -> dict:
    """The record of a process that ran here and has ended."""
    return {**this_process(), "pid": dead_pid(), "started": None}


def _as_if_killed(batch_dir) -> None:
    """What kill -9 leaves: batch.json as last saved, its writer gone."""
    path = batch_dir / BATCH_FILE
    data = json.loads(path.read_text())
    data["process"] = _dead_process()
    path.write_text(json.dumps(data))


def test_ctrl_c_in_run_2_keeps_run_1_and_the_same_command_continues(demo):
    project, prepared = demo
    saved = interrupted_in_run(project, TWO, prepared, run=2)
    assert saved.state == "stopped" and "Interrupted; 1 finished run kept: allgui validate" in saved.message
    assert [(r.index, r.finished) for r in saved.runs] == [(1, True)]
    log = EventLog()
    batch = run_batch(project, TWO, sink=log, prepared=prepared, resume=True)
    assert batch.batch_id == saved.batch_id and batch.status == "finished"
    assert [r.index for r in batch.runs_of(TUNED)] == [1, 2]
    assert batch.runs[0] == saved.runs[0]  # run 1 kept as it was, not trained again
    assert {e.run for e in log.of_type(EpochEnded)} == {2}
    notes = [e.text for e in log.of_type(Notice)]
    assert f"Continuing batch {saved.batch_id}: 1 of 2 runs already finished; 1 to run." in notes
    assert len(list_batches(project)) == 1


def test_a_full_disk_in_run_2_leaves_run_1_listed(demo, monkeypatch):
    project, prepared = demo
    real = atomic.atomic_open
    full = []

    def atomic_open(path, mode="wb"):
        if full:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, mode)

    def sink(event):
        if isinstance(event, RunFinished):
            full.append(True)  # the disk fills up after run 1

    monkeypatch.setattr(atomic, "atomic_open", atomic_open)
    with pytest.raises(OSError) as caught:
        run_batch(project, TWO, sink=sink, prepared=prepared, resume=True)
    assert caught.value.errno == errno.ENOSPC  # the disk's own error, not the last save's
    (folder,) = project.runs_dir.iterdir()
    saved = load_batch(folder)
    assert [(r.index, r.finished) for r in saved.runs] == [(1, True)]
    assert saved.status == "running" and saved.process["pid"] > 0
    monkeypatch.setattr(atomic, "atomic_open", real)
    _as_if_killed(folder)  # the command has ended
    assert load_batch(folder).state == "interrupted"
    batch = run_batch(project, TWO, prepared=prepared, resume=True)
    assert batch.batch_id == saved.batch_id and len(batch.runs_of(TUNED)) == 2


def test_a_killed_batch_reads_as_interrupted_and_other_settings_start_anew(demo):
    project, prepared = demo
    first = run_batch(project, TWO, prepared=prepared)
    data = json.loads((first.path / BATCH_FILE).read_text())
    data["status"], data["runs"] = "running", data["runs"][:1]  # killed during run 2
    (first.path / BATCH_FILE).write_text(json.dumps(data))
    assert load_batch(first.path).state == "running"  # this process still runs: cannot tell
    _as_if_killed(first.path)
    assert load_batch(first.path).state == "interrupted"
    other = run_batch(project, ValidationSettings(runs=2, epochs=1, params=TINY, first_seed=5),
                      prepared=prepared, resume=True)  # other seeds: a batch of its own
    assert other.batch_id != first.batch_id and other.seeds == (5, 6)
    assert load_batch(first.path).state == "interrupted"
    again = run_batch(project, TWO, prepared=prepared, resume=True)
    assert again.batch_id == first.batch_id and [r.index for r in again.runs] == [1, 2]
    fresh = run_batch(project, TWO, prepared=prepared)  # without resume (the window): new
    assert fresh.batch_id not in (first.batch_id, other.batch_id)


def test_a_recorded_process_is_gone_only_when_it_certainly_ended():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live = {**this_process(), "pid": child.pid}
        live["started"] = None
        assert not process_gone(live)
        assert not process_gone({**live, "host": "another-computer"})
        assert not process_gone({})
        mine = this_process()
        assert not process_gone(mine)
        assert mine["started"] is not None  # a reused PID has another start time
        assert process_gone({**mine, "started": mine["started"] - 1})
    finally:
        child.kill()
        child.wait()
    assert process_gone(live)


def test_an_unfinished_batch_with_other_training_settings_is_named_and_kept_apart(demo):
    """Another augmentation or validation loss is another protocol: its runs never
    join the unfinished batch, and the new batch says which setting differs."""
    project, prepared = demo
    stopped = interrupted_in_run(project, TWO, prepared, run=2)
    assert stopped.model.training["augmentation"]["probability"] == 0.5
    project.update(search={**project.settings.search, "augment_probability": 1.0,
                           "val_loss": "weighted"})
    log = EventLog()
    batch = run_batch(project, TWO, sink=log, prepared=prepared, resume=True)
    assert batch.batch_id != stopped.batch_id and batch.status == "finished"
    assert batch.model.training["augmentation"]["probability"] == 1.0
    said = [e.text for e in log.of_type(Notice) if "did not finish" in e.text]
    assert said and "augment probability 0.5 -> 1.0" in said[0]
    assert "val loss unweighted -> weighted" in said[0]
