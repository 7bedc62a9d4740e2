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
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import threading
import time
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from allgui.core.errors import AllguiError, DatasetError, ProjectError
from allgui.core.events import (
    EpochEnded,
    JobStarted,
    Notice,
    Sink,
    null_sink,
)
from allgui.core.project import (
    DatasetSettings,
    ModelSettings,
    Project,
    ProjectSettings,
    SplitSettings,
)
from allgui.core.search.lock import study_lock
from allgui.core.search.runner import (
    INTERRUPTED,
    JOB,
    SearchResult,
    SearchSettings,
    _Backbones,
    _make_pruner,
    _plain,
    _prepare_backbone,
    _result,
    _run_trial,
    announce_end,
    open_study,
    trial_result,
    trial_training_settings,
)
from allgui.core.search.storage import (
    is_database_url,
    mask_url,
    normalize_storage_url,
    open_storage,
    scheme,
)
from allgui.core.train.device import resolve_device
from allgui.core.train.sources import check_class_counts

SHARED = "allgui_shared"  # study attribute: what a worker needs to join
WORKER = "worker"  # trial attribute: 'host:pid' of the worker that ran it
WORKER_PREFIX = "worker:"  # study attributes, one per worker: its last sign of life
HEARTBEAT_S = 20  # a running trial beats this often; silent 3 beats = its worker died
STALE_BEATS = 3
MAX_RETRIES = 3  # a trial whose workers keep dying is given up after this many


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class SharedStudy:
    """What the study's creator records for the workers that join it."""

    dataset_fingerprint: str
    image_size: int
    split: dict[str, Any]
    model: dict[str, Any]
    search: dict[str, Any]
    budget: int
    heartbeat_s: int = HEARTBEAT_S

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SharedStudy:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def grace_s(self) -> int:
        return STALE_BEATS * self.heartbeat_s


@dataclass(frozen=True)
class WorkerSeen:
    """One worker's last sign of life, as the study holds it."""

    name: str  # host:pid
    # 'starting', 'running', 'waiting', 'finished', 'stopped', 'failed'; 'silent' (snapshot):
    # running or waiting but no sign of life for longer than the heartbeat's grace period
    state: str
    trial: int | None  # the trial it runs
    done: int  # trials it finished
    seen: datetime  # UTC

    def age_s(self, now: datetime | None = None) -> float:
        now = now or datetime.now(timezone.utc)
        return max((now - self.seen).total_seconds(), 0.0)

    def describe(self, now: datetime | None = None) -> str:
        what = f"running trial {self.trial}" if self.state == "running" and \
            self.trial is not None else self.state
        if self.state == "silent":
            what = "silent (stopped answering" + (f" during trial {self.trial})"
                                                  if self.trial is not None else ")")
        return f"{self.name}: {what}, {self.done} done, seen {_ago(self.age_s(now))}"


def _ago(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def workers_seen(study, within_s: float | None = None) -> tuple[WorkerSeen, ...]:
    """The workers that have announced themselves on ``study``, most recent
    first; only those seen in the last ``within_s`` seconds when given."""
    now = datetime.now(timezone.utc)
    out = []
    for key, value in study.user_attrs.items():
        if not key.startswith(WORKER_PREFIX) or not isinstance(value, dict):
            continue
        try:
            seen = datetime.fromisoformat(value["seen"])
        except (KeyError, TypeError, ValueError):
            continue
        w = WorkerSeen(name=key[len(WORKER_PREFIX):], state=str(value.get("state", "")),
                       trial=value.get("trial"), done=int(value.get("done") or 0), seen=seen)
        if within_s is None or w.age_s(now) <= within_s:
            out.append(w)
    return tuple(sorted(out, key=lambda w: w.seen, reverse=True))


def shared_settings(study) -> SharedStudy:
    raw = study.user_attrs.get(SHARED)
    if not isinstance(raw, dict):
        raise ProjectError(
            f"The study '{study.study_name}' was not set up for workers. Start it once from "
            "the project (allgui optimize PROJECT --storage URL, or the window), then start "
            "workers on it."
        )
    return SharedStudy.from_dict(raw)


# -- counting the budget ----------------------------------------------------
def _retried_numbers(trials) -> set[int]:
    """Trials whose parameters were queued again (their worker died)."""
    return {n for t in trials for n in (t.system_attrs.get("retry_history") or [])}


def counted(trials) -> int:
    """Trials that count towards the budget: complete, pruned, or failed by a
    fault; not those interrupted (Stop, dead worker) whose parameters run again."""
    from optuna.trial import TrialState

    retried = _retried_numbers(trials)
    n = 0
    for t in trials:
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
            n += 1
        elif (t.state == TrialState.FAIL and t.number not in retried
              and not trial_result(t).get(INTERRUPTED)):
            n += 1
    return n


def _next_step(study, budget: int) -> str:
    """'ask' (a queued retry, or budget left), 'wait' (others still run trials
    that may die and come back) or 'done'."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    if any(t.state == TrialState.WAITING for t in trials):
        return "ask"
    running = sum(t.state == TrialState.RUNNING for t in trials)
    if counted(trials) + running < budget:
        return "ask"
    return "wait" if running else "done"


@contextlib.contextmanager
def _ask_lock(storage, study_name: str) -> Iterator[None]:
    """One worker at a time between counting the budget and asking a trial."""
    kind = scheme(str(storage.url))
    if kind != "postgresql":
        yield  # SQLite serialises writers itself; other servers: the count may run over by one
        return
    from sqlalchemy import text

    key = zlib.crc32(f"allgui-study:{study_name}".encode())
    with storage.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


class _Requeue:
    """Heartbeat-stale trial callback: queue the parameters again and say so."""

    def __init__(self, sink: Sink) -> None:
        from optuna.storages import RetryHeartbeatStaleTrialCallback

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental in Optuna; its interface is pinned
            self._retry = RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)
        self.sink = sink

    def __call__(self, study, trial) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._retry(study, trial)
        who = trial.user_attrs.get(WORKER, "its worker")
        self.sink(Notice(JOB, level="warning",
                         text=f"Trial {trial.number} stopped answering ({who} died or lost the "
                              "connection); its parameters will run again."))


# -- the worker loop ---------------------------------------------------------
class _Presence:
    """This worker's ``worker:<name>`` study attribute."""

    def __init__(self, storage, study_id: int, name: str) -> None:
        self.storage, self.study_id, self.name = storage, study_id, name
        self.state, self.trial, self.done = "starting", None, 0
        self._lock = threading.Lock()

    def say(self, state: str | None = None, trial: int | None = None) -> None:
        with self._lock:
            if state is not None:
                self.state, self.trial = state, trial
            value = {"state": self.state, "trial": self.trial, "done": self.done,
                     "seen": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            with contextlib.suppress(Exception):  # a missed sign of life is harmless
                self.storage.set_study_user_attr(self.study_id, WORKER_PREFIX + self.name, value)


@contextlib.contextmanager
def _heartbeat(storage, trial_id: int, every_s: float, presence: _Presence) -> Iterator[None]:
    stop = threading.Event()

    def beat() -> None:
        while True:
            with contextlib.suppress(Exception):  # the next beat tries again
                storage.record_heartbeat(trial_id)
            presence.say()
            if stop.wait(every_s):
                return

    thread = threading.Thread(target=beat, name="allgui-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _make_sampler(settings: SearchSettings, seed: int):
    import optuna

    s = settings.sampler_settings()
    return optuna.samplers.TPESampler(
        seed=seed, n_startup_trials=s["n_startup_trials"], multivariate=s["multivariate"],
        n_ei_candidates=s["n_ei_candidates"], constant_liar=True,
    )


def _work(project: Project, settings: SearchSettings, data, shared: SharedStudy, sink: Sink,
          cancel: threading.Event, started: float, role: str) -> SearchResult:
    """Run trials of the shared study until its budget is reached (or Stop)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = worker_name()
    storage = open_storage(project.storage_url, shared.heartbeat_s, shared.grace_s,
                           on_stale=_Requeue(sink))
    probe = optuna.load_study(study_name=settings.study_name, storage=storage)
    seed = settings.seed + len(probe.trials) + zlib.crc32(name.encode()) % 1_000_003
    study = optuna.load_study(study_name=settings.study_name, storage=storage,
                              sampler=_make_sampler(settings, seed),
                              pruner=_make_pruner(settings))
    presence = _Presence(storage, study._study_id, name)
    presence.say("starting")
    device = resolve_device(settings.device)
    budget = shared_settings(study).budget
    left = max(budget - counted(study.get_trials(deepcopy=False)), 0)
    sink(JobStarted(JOB, description=f"{role} {name} on study '{settings.study_name}' "
                                     f"({mask_url(project.storage_url)}): {left} of {budget} "
                                     f"trial(s) left between all workers", total=left))
    backbones = _Backbones(project, settings, data, device, sink, cancel)
    train_settings = trial_training_settings(settings)
    stopped = False
    error: BaseException | None = None
    try:
        if left > 0 and not _prepare_backbone(project, settings, data, backbones):
            stopped = True
        while not stopped:
            if cancel.is_set():
                stopped = True
                break
            budget = shared_settings(study).budget  # the creator may raise it meanwhile
            trial = None
            with _ask_lock(storage, settings.study_name), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # heartbeat with ask/tell; experimental API
                optuna.storages.fail_stale_trials(study)
                step = _next_step(study, budget)
                if step == "ask":
                    trial = study.ask()
                    # Beat at once: Optuna never calls a trial without a beat stale.
                    storage.record_heartbeat(trial._trial_id)
                    trial.set_user_attr(WORKER, name)
            if step == "done":
                break
            if trial is None:  # others still run trials; one may die and come back
                presence.say("waiting")
                cancel.wait(min(shared.heartbeat_s, 5))
                continue
            presence.say("running", trial.number)
            with _heartbeat(storage, trial._trial_id, shared.heartbeat_s, presence):
                ok = _run_trial(study, trial, project, settings, train_settings, data,
                                backbones, device, sink, cancel)
            presence.done += 1
            if not ok:
                stopped = True
    except BaseException as exc:
        error = exc
        stopped = isinstance(exc, KeyboardInterrupt)
        raise
    finally:
        presence.say("stopped" if stopped else "failed" if error is not None else "finished")
        result = _result(project, settings, study, stopped, 0, time.perf_counter() - started,
                         backbones.features_s)
        announce_end(sink, result, stopped, error, run_here=presence.done)
    return result


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
    from allgui.core.search.runner import SearchError
    from allgui.core.train.sources import training_data_from_prepared

    if not is_database_url(project.storage_url):
        raise ProjectError("A shared study needs a database storage (postgresql://...).")
    if settings.mode == "cached" and project.settings.model.finetune_stages:
        raise SearchError("The cached mode needs a frozen backbone (finetune_stages = 0); "
                          "use the online mode to fine-tune.")
    fingerprint = ""
    if data is None:
        prepared = prepare_project_data(project, sink, cancel)
        fingerprint = prepared.index.fingerprint()
        data = training_data_from_prepared(prepared)
    check_class_counts(data)
    study, _, _ = open_study(project, settings, data.key, tuple(data.class_names))
    before = study.user_attrs.get(SHARED) or {}
    ps = project.settings
    shared = SharedStudy(
        dataset_fingerprint=fingerprint or before.get("dataset_fingerprint", ""),
        image_size=ps.dataset.image_size, split=dataclasses.asdict(ps.split),
        model=dataclasses.asdict(ps.model), search=_plain(settings.to_dict()),
        budget=settings.trials,
        heartbeat_s=int(heartbeat_s or before.get("heartbeat_s") or HEARTBEAT_S),
    )
    study.set_user_attr(SHARED, shared.to_dict())
    project.update(search=_plain(settings.to_dict()))
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
    from allgui.core.train.sources import training_data_from_prepared

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cancel = cancel if cancel is not None else threading.Event()
    started = time.perf_counter()
    storage_url = normalize_storage_url(storage_url)
    if not is_database_url(storage_url):
        raise ProjectError("Workers share a study through a database server (postgresql://...); "
                           "a study in an SQLite file is run by one search at a time.")
    storage = open_storage(storage_url)
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
    root = Path(folder) if folder else (Path.home() / ".cache" / "allgui" / "workers"
                                        / _safe(study_name))
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
    open_study(project, settings, data.key, tuple(data.class_names))  # same split and model
    return _work(project, settings, data, shared, sink, cancel, started, "Worker")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "study"


@dataclass(frozen=True)
class StudySnapshot:
    """A shared study as it stands, for the window to follow."""

    result: SearchResult
    workers: tuple[WorkerSeen, ...]
    budget: int
    curves: dict[int, tuple[EpochEnded, ...]] = dataclasses.field(default_factory=dict)


_storages: dict[str, Any] = {}


def snapshot(project: Project, study_name: str) -> StudySnapshot:
    """Read the project's study (any storage) once: trials, workers, budget."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = project.storage_url
    if url not in _storages:
        _storages[url] = open_storage(url)  # one connection pool per storage, reused
    try:
        study = optuna.load_study(study_name=study_name, storage=_storages[url])
    except KeyError as exc:
        raise ProjectError(f"This project has no study named '{study_name}' yet.") from exc
    except AllguiError:
        raise
    except Exception as exc:
        _storages.pop(url, None)
        raise ProjectError(f"The study storage cannot be read ({mask_url(url)}).",
                           mask_url(str(exc))) from exc
    raw = study.user_attrs.get(SHARED)
    try:
        settings = SearchSettings.from_dict(raw["search"]) if isinstance(raw, dict) else \
            SearchSettings.from_project(project)
        settings = dataclasses.replace(settings, study_name=study_name)
    except AllguiError:
        settings = SearchSettings(study_name=study_name)
    budget = int(raw.get("budget") or settings.trials) if isinstance(raw, dict) else \
        settings.trials
    result = _result(project, settings, study, False, 0, 0.0, 0.0)
    grace = SharedStudy.from_dict(raw).grace_s if isinstance(raw, dict) else 3 * HEARTBEAT_S
    workers = tuple(
        # A worker busy on a trial beats; one silent past the grace period died or was cut off.
        dataclasses.replace(w, state="silent") if w.state in ("running", "waiting")
        and w.age_s() > grace + 5 else w
        for w in workers_seen(study))
    return StudySnapshot(result=result, workers=workers, budget=budget,
                         curves=_curves(study, settings.epochs))


def _curves(study, epochs: int) -> dict[int, tuple[EpochEnded, ...]]:
    """Each finished trial's learning curve (its 'history' attribute) as the
    events its worker sent, so the window draws other workers' trials too."""
    from optuna.trial import TrialState

    fields = {f.name for f in dataclasses.fields(EpochEnded)} - {"job", "trial", "epochs"}
    out = {}
    for t in study.get_trials(deepcopy=False):
        history = t.user_attrs.get("history") if t.state != TrialState.RUNNING else None
        if isinstance(history, list) and history:
            out[t.number] = tuple(
                EpochEnded(JOB, trial=t.number, epochs=epochs, **{
                    k: (float("nan") if v is None else v) for k, v in h.items() if k in fields})
                for h in history if isinstance(h, dict))
    return out
