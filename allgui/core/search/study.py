"""The one reader of a project's Optuna study (its writer is
:mod:`allgui.core.search.study_write`).

One SQLite study per project (``project.storage_url``; optuna-dashboard
opens it as it is), or a study on a database server shared with workers.
Search, validation, the report and the window all read it here, as
:class:`~allgui.core.search.record.TrialRecord` and
:class:`~allgui.core.search.record.StudyRecord`, and as the table rows and
results (:class:`TrialSummary`, :class:`SearchResult`) the front ends show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from allgui.core.errors import ProjectError
from allgui.core.project import Project
from allgui.core.search import record as R
from allgui.core.search.record import StudyRecord, TrialRecord
from allgui.core.search.settings import (
    SearchError,
    SearchSettings,
    project_study_name,
)


@dataclass(frozen=True)
class TrialSummary:
    """One trial as a table row."""

    number: int
    state: str  # 'complete', 'pruned', 'failed', 'running', 'waiting'
    value: float | None
    params: dict[str, Any]
    epochs_run: int = 0
    best_epoch: int = 0
    duration_s: float = 0.0
    val_accuracy: float | None = None
    val_balanced_accuracy: float | None = None
    reason: str = ""
    worker: str = ""  # host:pid of the worker that ran it (shared studies)
    stopped: bool = False  # Stop, a crash or a dead worker ended it: not counted, run again


@dataclass(frozen=True)
class StudyInfo:
    """One study of a project's storage, as the window's study picker lists it."""

    name: str
    n_trials: int
    n_counted: int  # towards the budget (see :func:`counted`)
    best_value: float | None
    objective: str
    last_change: datetime | None  # the latest trial start or end


@dataclass(frozen=True)
class SearchResult:
    study_name: str
    storage_url: str
    objective: str
    settings: SearchSettings
    trials: tuple[TrialSummary, ...]
    best: TrialSummary | None
    n_complete: int
    n_pruned: int
    n_failed: int
    stopped: bool
    recovered: int  # trials found interrupted by a crash and queued again
    epochs_saved_by_pruning: int
    duration_s: float
    features_s: float  # time spent computing cached features in this run
    n_counted: int = 0  # trials that count towards settings.trials (see counted())
    n_stopped: int = 0  # failed by Stop or a crash: not counted, their parameters run again
    study_s: float = 0.0  # the trials' time in all, over every run of the study

    @property
    def n_faulted(self) -> int:
        """Failed by a fault (counted), not stopped."""
        return self.n_failed - self.n_stopped

    def counts(self) -> str:
        """The study's trials in words, stopped apart from failed: the window,
        its log and the command line say the same."""
        return (f"{self.n_complete} complete, {self.n_pruned} pruned, {self.n_faulted} failed"
                + (f", {self.n_stopped} stopped (run again on resume)" if self.n_stopped else ""))

    def top(self, n: int = 5) -> list[TrialSummary]:
        done = [t for t in self.trials if t.state == "complete" and t.value is not None]
        return sorted(done, key=lambda t: -(t.value or 0.0))[:n]


# -- opening ---------------------------------------------------------------------
def quiet_optuna():
    """Optuna, imported with its per-trial log lines off (allgui says what happened)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def storage_for(url: str, **kwargs: Any):
    """SQLite or a database server; errors never show a password."""
    from allgui.core.search.storage import open_storage

    return open_storage(url, **kwargs)


def load_study(project: Project, study_name: str | None = None, storage: Any = None):
    """The project's Optuna study (read it, plot it, compute importances)."""
    optuna = quiet_optuna()
    name = study_name or SearchSettings.from_project(project).study_name
    try:
        return optuna.load_study(study_name=name,
                                 storage=storage or storage_for(project.storage_url))
    except KeyError as exc:
        raise ProjectError(f"This project has no study named '{name}' yet.") from exc


def project_study(project: Project):
    """The study the project's ``[search]`` settings name (else its newest),
    or None when the project has none yet."""
    optuna = quiet_optuna()
    if project.sqlite_path is not None and not project.sqlite_path.is_file():
        return None
    try:
        storage = storage_for(project.storage_url)
        names = optuna.study.get_all_study_names(storage=storage)
        name = project_study_name(project, names)
        return optuna.load_study(study_name=name, storage=storage) if name else None
    except Exception as exc:  # storage errors come in many kinds
        raise ProjectError("The project's study cannot be read.", f"{type(exc).__name__}: {exc}"
                           ) from exc


# -- reading ---------------------------------------------------------------------
def trials(study, states: tuple[str, ...] | None = None) -> tuple[TrialRecord, ...]:
    """The study's trials as records, by number; only ``states`` when given."""
    records = (TrialRecord.from_trial(t) for t in study.get_trials(deepcopy=False))
    return tuple(r for r in records if states is None or r.state in states)


def study_record(study) -> StudyRecord:
    return StudyRecord.from_study(study)


def finished(records) -> list[TrialRecord]:
    """Complete trials with a finite value."""
    import math

    return [r for r in records if r.state == "complete" and r.value is not None
            and math.isfinite(r.value)]


# Said in every refusal to add trials to a study: a new search gets its own name.
NEW_STUDY = ("give the new search its own study name (Study name in the window, "
             "--study on the command line).")


def check_made_by_allgui(study) -> None:
    """A SearchError when ``study`` was not made by allgui and its trials search
    parameters allgui does not know (a plain Optuna study): allgui neither adds
    trials to it nor trains what its trials name."""
    record = study_record(study)
    records = trials(study)
    if not records or record.allgui is not None:
        return
    from allgui.core.model.params import NAMES

    theirs = sorted({k for r in records for k in r.params} - set(NAMES))
    if not theirs:
        return  # allgui's own parameters (values queued for it, an older allgui's study)
    named = (" (its trials search " + ", ".join(theirs[:6]) + (" ..." if len(theirs) > 6 else "")
             + ", which allgui does not know)")
    raise SearchError(
        f"The study '{record.name}' was not made by allgui{named}; allgui leaves it as it "
        "is and adds nothing to it. " + NEW_STUDY[:1].upper() + NEW_STUDY[1:-1]
        + ", or keep that study in another file.")


def not_finite(records) -> tuple[int, ...]:
    """The numbers of complete trials whose value is infinite or not a number
    (another tool's, or a damaged study): never counted as the best."""
    import math

    return tuple(r.number for r in records if r.state == "complete" and r.value is not None
                 and not math.isfinite(r.value))


def not_finite_note(numbers: tuple[int, ...]) -> str:
    if not numbers:
        return ""
    listed = ", ".join(str(n) for n in numbers[:10]) + (" ..." if len(numbers) > 10 else "")
    return (f"{len(numbers)} complete trial(s) hold a value that is not a finite number "
            f"(trial {listed}); they are never counted as the best.")


def best_trial(records, maximize: bool = True) -> TrialRecord | None:
    done = finished(records)
    return (max if maximize else min)(done, key=lambda r: r.value or 0.0) if done else None


def counted(records) -> int:
    """Trials that count towards the budget: complete, pruned, or failed by a
    fault; not those a crash, Stop or dead worker interrupted (their
    parameters run again). Takes records or Optuna's trials."""
    records = [r if isinstance(r, TrialRecord) else TrialRecord.from_trial(r) for r in records]
    retried = {n for r in records for n in r.retried_as}
    return sum(r.state in ("complete", "pruned") or (
        r.state == "failed" and r.number not in retried and not r.interrupted)
        for r in records)


def summaries(records) -> tuple[TrialSummary, ...]:
    """Table rows. A trial whose worker died is failed by heartbeat and run
    again under a new number; its row says so."""
    retried = {n: r.number for r in records for n in r.retried_as}
    out = []
    for r in records:
        attrs = r.result
        reason = r.fail_reason
        if r.state == "complete" and r.value is not None and not math.isfinite(r.value):
            reason = "its value is not a finite number; never counted as the best"
        if r.number in retried and not reason:
            reason = f"its worker stopped answering; run again as trial {retried[r.number]}"
        out.append(TrialSummary(
            number=r.number, state=r.state, value=r.value, params=r.all_params,
            epochs_run=int(attrs.get("epochs_run") or 0),
            best_epoch=int(attrs.get("best_epoch") or 0),
            duration_s=float(attrs.get("duration_s") or r.duration_s or 0.0),
            val_accuracy=attrs.get("val_accuracy"),
            val_balanced_accuracy=attrs.get("val_balanced_accuracy"),
            reason=reason, worker=r.worker,
            stopped=r.state == "failed" and (r.interrupted or r.number in retried),
        ))
    return tuple(out)


def search_result(project: Project, settings: SearchSettings, study, stopped: bool = False,
                  recovered: int = 0, duration_s: float = 0.0,
                  features_s: float = 0.0) -> SearchResult:
    records = trials(study)
    rows = summaries(records)
    done = [t for t in rows if t.state == "complete" and t.value is not None
            and math.isfinite(t.value)]  # an infinite value is never "best"
    best = max(done, key=lambda t: t.value or 0.0) if done else None
    saved = sum(max(settings.epochs - t.epochs_run, 0) for t in rows if t.state == "pruned")
    return SearchResult(
        study_name=settings.study_name, storage_url=project.storage_url,
        objective=settings.objective, settings=settings, trials=rows, best=best,
        n_complete=len(done), n_pruned=sum(t.state == "pruned" for t in rows),
        n_failed=sum(t.state == "failed" for t in rows), stopped=stopped,
        recovered=recovered, epochs_saved_by_pruning=saved, duration_s=duration_s,
        features_s=features_s, n_counted=counted(records),
        n_stopped=sum(t.stopped for t in rows),
        study_s=sum(t.duration_s for t in rows if t.state != "running"),
    )


def list_studies(project: Project) -> tuple[StudyInfo, ...]:
    """Every study in the project's storage, oldest first; () when it has none yet."""
    optuna = quiet_optuna()
    if project.sqlite_path is not None and not project.sqlite_path.is_file():
        return ()
    try:
        storage = storage_for(project.storage_url)
        out = []
        for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
            study = optuna.load_study(study_name=summary.study_name, storage=storage)
            records = trials(study)
            times = [t for r in study.get_trials(deepcopy=False)
                     for t in (r.datetime_start, r.datetime_complete) if t is not None]
            best = best_trial(records)
            out.append(StudyInfo(
                name=summary.study_name, n_trials=len(records), n_counted=counted(records),
                best_value=best.value if best else None,
                objective=str((study_record(study).allgui or {}).get("objective") or ""),
                last_change=max(times) if times else None))
    except Exception as exc:  # storage errors come in many kinds
        raise ProjectError("The project's studies cannot be read.",
                           f"{type(exc).__name__}: {exc}") from exc
    return tuple(out)


def load_search_result(project: Project, settings: SearchSettings | None = None) -> SearchResult:
    """The project's study as it stands, without running anything."""
    settings = settings if settings is not None else SearchSettings.from_project(project)
    return search_result(project, settings, load_study(project, settings.study_name))


def study_id(storage, study_name: str) -> int:
    """Optuna's storage ID of a study, through its public storage API."""
    return int(storage.get_study_id_from_name(study_name))


def trial_id(storage, study_name: str, number: int) -> int:
    """Optuna's storage ID of trial ``number`` of a study, through its public
    storage API (a Trial's own ID is private)."""
    return int(storage.get_trial_id_from_study_id_trial_number(study_id(storage, study_name),
                                                               number))


def shared_of(study) -> R.SharedStudy | None:
    raw = study_record(study).shared
    return R.SharedStudy.from_dict(raw) if raw is not None else None
