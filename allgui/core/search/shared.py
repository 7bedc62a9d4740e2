"""A study shared by workers on several machines through a database
(PostgreSQL): Optuna's own distributed storage, no scheduler of allgui's.

- The study holds what a worker needs (``SHARED`` study attribute): the
  dataset's fingerprint, image size, split, backbone, search settings, the
  shared trial budget and the heartbeat. A worker needs only the storage URL,
  the study name and its own copy of the data; it refuses to run when its
  data is not the same (fingerprint of the index).
- Budget: the study holds ``budget`` trials that count (complete, pruned,
  failed by a fault) between all workers. Checking the count and asking for
  a trial happen under a database lock (PostgreSQL advisory lock), so the
  workers together run exactly the budget.
- TPE with ``constant_liar``: running trials count as bad results, so
  parallel workers do not all pick the same point. Each worker's sampler has
  its own seed (random start trials would repeat otherwise).
- Heartbeats: a running trial beats every ``heartbeat_s``; one silent for
  three beats (its worker died) is marked failed by whichever worker notices
  and its parameters are queued again (Optuna's
  ``RetryHeartbeatStaleTrialCallback``); a worker that has nothing left to
  ask waits while others still run, so such a retry is never left undone.
- Each trial records its worker (``host:pid``) in the ``worker`` attribute;
  each worker keeps a ``worker:<host:pid>`` study attribute up to date (state,
  trial, time seen) so the window lists the workers seen recently.

The trials run in the one loop of :mod:`allgui.core.search.loop`; what a
shared study does differently is :class:`SharedPolicy`.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from allgui.core.errors import AllguiError, DatasetError, ProjectError
from allgui.core.events import EpochEnded, Sink, null_sink
from allgui.core.files.text import count
from allgui.core.project import (
    DatasetSettings,
    ModelSettings,
    Project,
    ProjectSettings,
    SplitSettings,
)
from allgui.core.search import study as S
from allgui.core.search import study_write as W
from allgui.core.search.lock import study_lock
from allgui.core.search.loop import DONE, JOB, WAIT, StudyPolicy, run_trials
from allgui.core.search.record import (  # noqa: F401 - WORKER, SHARED: the names workers read
    HEARTBEAT_S,
    SHARED,
    STALE_BEATS,
    WORKER,
    SharedStudy,
    plain,
)
from allgui.core.search.settings import SearchSettings, make_pruner, make_sampler
from allgui.core.search.storage import is_database_url, mask_url, normalize_storage_url
from allgui.core.search.study import SearchResult, counted  # noqa: F401 - counted: re-exported
from allgui.core.search.workers import (  # noqa: F401 - WorkerSeen, workers_seen: re-exported
    Presence,
    Requeue,
    WorkerSeen,
    ask_lock,
    heartbeat,
    worker_name,
    workers_seen,
)
from allgui.core.train.loop import check_class_counts, resolve_device


def shared_settings(study) -> SharedStudy:
    shared = S.shared_of(study)
    if shared is None:
        raise ProjectError(
            f"The study '{study.study_name}' was not set up for workers. Start it once from "
            "the project (the Optimize tab with its study storage set, or allgui optimize "
            "PROJECT --storage URL), then start workers on it."
        )
    return shared


class SharedPolicy(StudyPolicy):
    """A study on a database server, run by this process beside any workers:
    the budget is the study's, counted under a database lock; each worker
    has its own sampler seed, says it is alive, and beats while a trial runs."""

    def __init__(self, project: Project, settings: SearchSettings, shared: SharedStudy,
                 sink: Sink, role: str) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.project, self.settings, self.shared, self.role = project, settings, shared, role
        self.name = worker_name()
        self.storage = S.storage_for(project.storage_url, heartbeat_s=shared.heartbeat_s,
                                     grace_s=shared.grace_s, on_stale=Requeue(sink))
        probe = S.load_study(project, settings.study_name, self.storage)
        offset = len(probe.trials) + zlib.crc32(self.name.encode()) % 1_000_003
        self.study = optuna.load_study(study_name=settings.study_name, storage=self.storage,
                                       sampler=make_sampler(settings, offset,
                                                            constant_liar=True),
                                       pruner=make_pruner(settings))
        self.presence = Presence(self.storage, S.study_id(self.storage, settings.study_name),
                                 self.name)
        self.presence.say("starting")

    @property
    def run_here(self) -> int:  # type: ignore[override]
        return self.presence.done

    def start(self) -> tuple[str, int]:
        budget = shared_settings(self.study).budget
        left = max(budget - counted(S.trials(self.study)), 0)
        return (f"{self.role} {self.name} on study '{self.settings.study_name}' "
                f"({mask_url(self.project.storage_url)}): {left} of "
                f"{count(budget, 'trial')} left between all workers", left)

    def claim(self):
        """A queued retry, or a new trial while budget is left ('ask'); WAIT
        while others still run trials that may die and come back; else DONE."""
        import optuna

        budget = shared_settings(self.study).budget  # the creator may raise it meanwhile
        with ask_lock(self.storage, self.settings.study_name), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # heartbeat with ask/tell; experimental API
            optuna.storages.fail_stale_trials(self.study)
            records = S.trials(self.study)
            running = sum(r.state == "running" for r in records)
            if not any(r.state == "waiting" for r in records) and \
                    counted(records) + running >= budget:
                return WAIT if running else DONE
            trial = self.study.ask()
            # Beat at once: Optuna never calls a trial without a beat stale.
            self.storage.record_heartbeat(self.trial_id_of(trial))
            W.write_worker(trial, self.name)
            return trial

    def trial_id_of(self, trial) -> int:
        return S.trial_id(self.storage, self.settings.study_name, trial.number)

    def wait(self, cancel: threading.Event) -> None:
        self.presence.say("waiting")
        cancel.wait(min(self.shared.heartbeat_s, 5))

    def running(self, trial):
        self.presence.say("running", trial.number)
        return heartbeat(self.storage, self.trial_id_of(trial), self.shared.heartbeat_s,
                         self.presence)

    def ran(self, trial) -> None:
        self.presence.done += 1

    def ended(self, stopped: bool, error: BaseException | None) -> None:
        self.presence.say("stopped" if stopped else "failed" if error is not None
                          else "finished")


def _work(project: Project, settings: SearchSettings, data, shared: SharedStudy, sink: Sink,
          cancel: threading.Event, started: float, role: str) -> SearchResult:
    """Run trials of the shared study until its budget is reached (or Stop)."""
    policy = SharedPolicy(project, settings, shared, sink, role)
    device = resolve_device(settings.device)
    return run_trials(policy, project, settings, data, device, sink, cancel, started)


def _check_same_data(index, shared: SharedStudy, study_name: str) -> None:
    if shared.dataset_fingerprint and index.fingerprint() != shared.dataset_fingerprint:
        raise DatasetError(
            f"The images at {index.root} are not the data of study '{study_name}' "
            f"(fingerprint {index.fingerprint()}, the study's {shared.dataset_fingerprint}): "
            "this worker will not run trials on them. Give the path of the same dataset "
            "(same files, labels and folders) on this machine.",
            f"{len(index.records)} images found",
        )


def run_shared_search(project: Project, settings: SearchSettings | None = None,
                      sink: Sink = null_sink, cancel: threading.Event | None = None,
                      data=None, heartbeat_s: int | None = None) -> SearchResult:
    """:func:`~allgui.core.search.runner.run_search` for a project whose study lives
    on a database: create (or continue) the shared study, set its budget to
    ``settings.trials``, and run trials here too, beside any workers."""
    settings = settings if settings is not None else SearchSettings.from_project(project)
    cancel = cancel if cancel is not None else threading.Event()
    started = time.perf_counter()
    with study_lock(project.root / ".search.lock"):
        shared, data = _publish(project, settings, sink, cancel, data, heartbeat_s)
        return _work(project, settings, data, shared, sink, cancel, started, "Search")


def create_shared_study(project: Project, settings: SearchSettings | None = None,
                        sink: Sink = null_sink, cancel: threading.Event | None = None,
                        heartbeat_s: int | None = None) -> SharedStudy:
    """Create (or update) the project's shared study for workers to run,
    without running a trial here. Returns what the workers will read."""
    settings = settings if settings is not None else SearchSettings.from_project(project)
    cancel = cancel if cancel is not None else threading.Event()
    return _publish(project, settings, sink, cancel, None, heartbeat_s)[0]


def _publish(project, settings, sink, cancel, data, heartbeat_s):
    """Open (or make) the study, check it matches, record what workers need."""
    from allgui.core.dataset.prepared import prepare_project_data
    from allgui.core.train.loop import training_data_from_prepared

    if not is_database_url(project.storage_url):
        raise ProjectError("A shared study needs a database storage (postgresql://...).")
    settings.check_model(project.settings.model.finetune_stages)
    fingerprint = ""
    if data is None:
        prepared = prepare_project_data(project, sink, cancel)
        fingerprint = prepared.index.fingerprint()
        data = training_data_from_prepared(prepared)
    check_class_counts(data)
    study, _, _ = W.open_study(project, settings, data.key, tuple(data.class_names))
    before = S.study_record(study).shared or {}
    ps = project.settings
    shared = SharedStudy(
        dataset_fingerprint=fingerprint or before.get("dataset_fingerprint", ""),
        image_size=ps.dataset.image_size, split=dataclasses.asdict(ps.split),
        model=dataclasses.asdict(ps.model), search=plain(settings.to_dict()),
        budget=settings.trials,
        heartbeat_s=int(heartbeat_s or before.get("heartbeat_s") or HEARTBEAT_S),
    )
    W.set_shared(study, shared)
    project.update(search=plain(settings.to_dict()))
    return shared, data


def join_study(storage_url: str, study_name: str, data_path: str | Path | None = None,
               folder: str | Path | None = None, sink: Sink = null_sink,
               cancel: threading.Event | None = None) -> SearchResult:
    """Join the shared study ``study_name`` as a worker and run its trials
    until the budget is reached. The data is at ``data_path`` on this machine
    (or in the project at ``folder``); ``folder`` also keeps this worker's
    caches (default: ``~/.cache/allgui/workers/<study>``)."""
    import optuna

    from allgui.core.dataset.discover import discover
    from allgui.core.dataset.prepared import prepare_project_data
    from allgui.core.train.loop import training_data_from_prepared

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cancel = cancel if cancel is not None else threading.Event()
    started = time.perf_counter()
    storage_url = normalize_storage_url(storage_url)
    if not is_database_url(storage_url):
        raise ProjectError("Workers share a study through a database server (postgresql://...); "
                           "a study in an SQLite file is run by one search at a time.")
    storage = S.storage_for(storage_url)
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError as exc:
        raise ProjectError(f"There is no study named '{study_name}' in "
                           f"{mask_url(storage_url)}.") from exc
    shared = shared_settings(study)
    local = None
    if folder is not None and (Path(folder) / "project.toml").is_file():
        local = Project.open(folder)
    data_path = str(data_path or (local.settings.dataset.path if local else ""))
    if not data_path:
        raise DatasetError("Say where this study's images are on this machine (--data PATH).")
    root = Path(folder) if folder else worker_folder(study_name)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProjectError(f"Cannot create the worker folder {root}.", str(exc)) from exc
    # In memory only: the storage URL (maybe with a password) is never written here.
    project = Project(root, ProjectSettings(
        dataset=DatasetSettings(path=str(Path(data_path).expanduser().resolve()),
                                image_size=int(shared.image_size)),
        split=SplitSettings(**shared.split), model=ModelSettings(**shared.model),
        search=dict(shared.search), storage=storage_url,
    ))
    settings = SearchSettings.from_dict(shared.search)
    _check_same_data(discover(project.settings.dataset.path, null_sink, cancel), shared,
                     study_name)
    data = training_data_from_prepared(prepare_project_data(project, sink, cancel))
    check_class_counts(data)
    W.open_study(project, settings, data.key, tuple(data.class_names))  # same split and model
    return _work(project, settings, data, shared, sink, cancel, started, "Worker")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "study"


def worker_folder(study_name: str) -> Path:
    """Where a worker without --project keeps its caches for ``study_name``: the
    platform's cache folder (XDG's on Linux, Library/Caches on macOS,
    AppData\\Local on Windows)."""
    from platformdirs import user_cache_path

    return user_cache_path("allgui", appauthor=False) / "workers" / _safe(study_name)


@dataclass(frozen=True)
class StudySnapshot:
    """A study as it stands, for the window to follow."""

    result: SearchResult
    workers: tuple[WorkerSeen, ...]
    budget: int
    curves: dict[int, tuple[EpochEnded, ...]] = dataclasses.field(default_factory=dict)


_storages: dict[str, Any] = {}


def snapshot(project: Project, study_name: str) -> StudySnapshot:
    """Read the project's study (any storage) once: trials, workers, budget."""
    url = project.storage_url
    if url not in _storages:
        _storages[url] = S.storage_for(url)  # one connection pool per storage, reused
    try:
        study = S.load_study(project, study_name, _storages[url])
    except AllguiError:
        raise
    except Exception as exc:
        _storages.pop(url, None)
        raise ProjectError(f"The study storage cannot be read ({mask_url(url)}).",
                           mask_url(str(exc))) from exc
    record = S.study_record(study)
    raw = record.shared
    try:
        settings = SearchSettings.from_dict(raw["search"]) if raw is not None else \
            SearchSettings.from_project(project)
        settings = dataclasses.replace(settings, study_name=study_name)
    except AllguiError:
        settings = SearchSettings(study_name=study_name)
    budget = int(raw.get("budget") or settings.trials) if raw is not None else settings.trials
    records = S.trials(study)
    result = S.search_result(project, settings, study)
    grace = SharedStudy.from_dict(raw).grace_s if raw is not None else STALE_BEATS * HEARTBEAT_S
    workers = tuple(
        # A worker busy on a trial beats; one silent past the grace period died or was cut off.
        dataclasses.replace(w, state="silent") if w.state in ("running", "waiting")
        and w.age_s() > grace + 5 else w
        for w in workers_seen(record))
    return StudySnapshot(result=result, workers=workers, budget=budget,
                         curves=_curves(records, settings.epochs))


def _curves(records, epochs: int) -> dict[int, tuple[EpochEnded, ...]]:
    """Each finished trial's learning curve (its 'history' attribute) as the
    events its worker sent, so the window draws other workers' trials too."""
    fields = {f.name for f in dataclasses.fields(EpochEnded)} - {"job", "trial", "epochs"}
    out: dict[int, tuple[EpochEnded, ...]] = {}
    for r in records:
        if r.state != "running" and r.history:
            out[r.number] = tuple(
                EpochEnded(JOB, trial=r.number, epochs=epochs, **_epoch_values(h, fields))
                for h in r.history)
    return out


def _epoch_values(history: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    return {k: (float("nan") if v is None else v) for k, v in history.items() if k in fields}
