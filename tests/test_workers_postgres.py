"""Workers sharing one study through a real PostgreSQL server on loopback:
the shared budget, a worker killed mid-trial, a dataset that is not the same.

Each worker is a real ``allgui worker`` process (tiny backbone, 32 px demo
data, CPU). Skipped, saying why, when no PostgreSQL server can be started
(see tests/support/pg_server.py and scripts/ci_postgres.sh).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from allgui.core.dataset.demo import make_demo_dataset
from allgui.core.errors import DatasetError, ProjectError
from allgui.core.project import DatasetSettings, ModelSettings, Project, ProjectSettings
from allgui.core.search.runner import SearchSettings, load_search_result
from allgui.core.search.shared import (
    WORKER,
    counted,
    create_shared_study,
    join_study,
    workers_seen,
)
from allgui.core.search.storage import mask_url, normalize_storage_url

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> Path:
    return make_demo_dataset(tmp_path_factory.mktemp("demo") / "data", patients_all=3,
                             patients_hem=3, images_per_patient=4, size=32,
                             unlabelled_images=0, folds=1)


def shared_project(tmp_path, url, data, trials) -> Project:
    project = Project.create(tmp_path / "proj", ProjectSettings(
        dataset=DatasetSettings(path=str(data), image_size=32),
        model=ModelSettings(backbone="test_efficientnet", weights="none"), storage=url))
    settings = SearchSettings(trials=trials, epochs=2, views=2, startup_trials=2, device="cpu")
    create_shared_study(project, settings, heartbeat_s=1)
    return project


def start_worker(url, data, folder) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    return subprocess.Popen(
        [sys.executable, "-m", "allgui", "worker", "--storage", url, "--study", "search",
         "--data", str(data), "--project", str(folder), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def copy_data(data, where) -> Path:
    """The same dataset at another path, as on another machine."""
    return Path(shutil.copytree(data, where))


def finish(proc, timeout=120) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return out


def study_of(url):
    return optuna.load_study(study_name="search", storage=url)


def test_three_workers_finish_exactly_the_shared_budget(tmp_path, database, demo_data):
    project = shared_project(tmp_path, database, demo_data, trials=6)
    procs = [start_worker(database, copy_data(demo_data, tmp_path / f"copy{i}"),
                          tmp_path / f"w{i}") for i in range(3)]
    outputs = [finish(p) for p in procs]
    trials = study_of(database).get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6  # exactly the budget
    assert counted(trials) == 6
    names = {f"{h}:{p.pid}" for p in procs for h in [os.uname().nodename]}
    ran = {t.user_attrs[WORKER] for t in trials}
    assert ran <= names and len(ran) >= 2, (ran, outputs)  # shared, not each its own budget
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 6  # no point twice
    seen = {w.name: w for w in workers_seen(study_of(database))}
    assert set(seen) == names and all(w.state == "finished" for w in seen.values())
    # The project (as the window reads it) shows every worker's trials.
    result = load_search_result(project)
    assert {t.worker for t in result.trials} == ran
    assert all("ran" in out and ("trials of study 'search'" in out
                                 or "trial of study 'search'" in out) for out in outputs)


def test_a_killed_worker_has_its_trial_failed_and_run_again(tmp_path, database, demo_data):
    shared_project(tmp_path, database, demo_data, trials=4)
    victim = start_worker(database, demo_data, tmp_path / "w0")
    name = f"{os.uname().nodename}:{victim.pid}"

    def running_trials():
        return [t.number for t in study_of(database).get_trials(
            deepcopy=False, states=(TrialState.RUNNING,)) if t.user_attrs.get(WORKER) == name]

    deadline = time.monotonic() + 90
    while not running_trials() and time.monotonic() < deadline:
        assert victim.poll() is None, victim.communicate()[0]
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)  # mid-trial: no goodbye, no cleanup
    victim.wait()
    killed = running_trials()  # what the dead worker left running
    assert len(killed) == 1, "the first worker was not killed during a trial"
    killed_trial = killed[0]
    survivor = start_worker(database, demo_data, tmp_path / "w1")
    out = finish(survivor)
    trials = study_of(database).get_trials(deepcopy=False)
    dead = trials[killed_trial]
    assert dead.state == TrialState.FAIL and dead.user_attrs[WORKER] == name
    again = [t for t in trials if t.system_attrs.get("failed_trial") == killed_trial]
    assert len(again) == 1 and again[0].state == TrialState.COMPLETE
    # Its parameters again (those it had drawn before it died; the rest drawn anew).
    assert dead.params.items() <= again[0].params.items()
    assert again[0].user_attrs[WORKER] == f"{os.uname().nodename}:{survivor.pid}"
    assert counted(trials) == 4  # the failed one is not counted: nothing lost, nothing twice
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 4
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert "stopped answering" in out


def test_other_data_is_refused_before_any_trial(tmp_path, database, demo_data):
    shared_project(tmp_path, database, demo_data, trials=2)
    other = copy_data(demo_data, tmp_path / "other")
    victim = next(p for p in sorted(other.rglob("*.bmp")))
    victim.unlink()  # one image fewer: not the same data
    with pytest.raises(DatasetError, match="not the data of study 'search'"):
        join_study(database, "search", other, tmp_path / "w")
    assert study_of(database).get_trials(deepcopy=False) == []
    # The command says so in plain words, with no traceback and no password.
    secret = database.replace("allgui@", "allgui:s3cret@")
    proc = subprocess.run(
        [sys.executable, "-m", "allgui", "worker", "--storage", secret, "--study", "search",
         "--data", str(other), "--project", str(tmp_path / "w")],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1"))
    assert proc.returncode == 2
    assert "not the data of study 'search'" in proc.stderr
    assert "Traceback" not in proc.stderr and "s3cret" not in proc.stdout + proc.stderr


def test_storage_urls_are_masked_and_checked():
    url = "postgresql://alice:pa:ss@db.example:5432/allgui"
    assert mask_url(url) == "postgresql://alice:***@db.example:5432/allgui"
    assert mask_url(f"cannot open {url} now") == "cannot open postgresql://alice:***@db.example" \
                                                ":5432/allgui now"
    assert mask_url("postgresql://bob@db/allgui") == "postgresql://bob@db/allgui"
    assert normalize_storage_url("postgresql://bob@db/allgui").startswith("postgresql+psycopg")
    assert normalize_storage_url("") == ""
    for bad in ("http://x/y", "postgresql://bob@db", "postgresql:///allgui"):
        with pytest.raises(ProjectError, match="allgui|server|database"):
            normalize_storage_url(bad)


def test_workers_need_a_database_server(tmp_path):
    with pytest.raises(ProjectError, match="database server"):
        join_study(f"sqlite:///{tmp_path / 'study.db'}", "search", tmp_path)


@pytest.mark.gui
def test_the_window_follows_every_workers_trials(tmp_path, database, demo_data, qtbot,
                                                 app_settings, captured):
    from allgui.gui.main_window import MainWindow

    from support.gui import wait_jobs, wait_until

    secret = database.replace("allgui@", "allgui:s3cret@")  # the test server ignores it
    project = shared_project(tmp_path, secret, demo_data, trials=3)
    window = MainWindow(app_settings, probe_device=False)
    qtbot.addWidget(window)
    window.show()
    window.open_project(project.root)
    wait_jobs(qtbot, window)
    tab = window.optimize_tab
    assert tab.follower.following
    assert tab.storage_label.text() == mask_url(secret)
    assert "***" in tab.storage_label.text() and "s3cret" not in tab.storage_label.text()
    proc = start_worker(database, demo_data, tmp_path / "w0")  # on "another machine"
    name = f"{os.uname().nodename}:{proc.pid}"

    def complete_rows():
        t = tab.trials_table
        return [t.item(r, 6).text() for r in range(t.rowCount()) if t.item(r, 1).text()
                == "complete"]

    wait_until(lambda: len(complete_rows()) == 3, timeout=120_000)  # as they finish, polled
    finish(proc)
    assert set(complete_rows()) == {name}  # which worker ran each
    wait_until(lambda: all(tab.book.trials[n].curve for n in range(3)), timeout=10_000)
    assert [e.epoch for e in tab.book.trials[0].curve] == [1, 2]  # its learning curve too
    wait_until(lambda: name in tab.workers_label.text(), timeout=10_000)
    assert not tab.workers_label.isHidden() and "Workers seen" in tab.workers_label.text()
    assert "s3cret" not in tab.study_label.text() + tab.workers_label.text()
    assert not captured.errors, captured.errors
    tab.follower.follow(None, "")


def test_optimize_with_a_database_storage_runs_the_shared_study(tmp_path, database, demo_data,
                                                                capsys):
    from allgui.cli import main

    secret = database.replace("allgui@", "allgui:s3cret@")  # the test server ignores it
    assert main(["new", str(tmp_path / "proj"), "--data", str(demo_data),
                 "--image-size", "32"]) == 0
    args = ["optimize", str(tmp_path / "proj"), "--storage", secret, "--backbone",
            "test_efficientnet", "--weights", "none", "--trials", "2", "--epochs", "2",
            "--views", "2", "--startup-trials", "1", "--device", "cpu", "--quiet"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "s3cret" not in out + err and "allgui:***@" in out
    trials = study_of(database).get_trials(deepcopy=False)
    assert len(trials) == 2 and {t.user_attrs[WORKER] for t in trials} == {
        f"{os.uname().nodename}:{os.getpid()}"}
    shared = study_of(database).user_attrs["allgui_shared"]
    assert shared["budget"] == 2 and shared["dataset_fingerprint"]
    # A worker joining later finds the budget reached and runs nothing.
    result = join_study(database, "search", demo_data, tmp_path / "w")
    assert len(result.trials) == 2 and result.n_complete == 2
