"""What allgui keeps in an Optuna study, in one place: every study and trial
user attribute, its name and its shape.

A trial's attributes are written as it runs (its ``settings`` when it
starts, its ``worker`` when a shared study hands it out, ``history`` and
``result`` when it ends; ``retry_of`` comes with a queued retry) and read
back as one :class:`TrialRecord`. The study's are one :class:`StudyRecord`.
Nothing else in allgui names an attribute: readers go through
:mod:`allgui.core.search.study`, which builds these records.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

# -- trial attributes --------------------------------------------------------
SETTINGS = "settings"  # what the trial ran with: mode, epochs, seed, model, fixed values...
HISTORY = "history"  # the per-epoch curve: one dict per epoch
RESULT = "result"  # the outcome: epochs_run, best_epoch, duration_s, fail_reason...
EPOCHS_RUN = "epochs_run"  # also at the top level, where reports read them
BEST_EPOCH = "best_epoch"
RETRY_OF = "retry_of"  # the trial whose parameters this one runs again
WORKER = "worker"  # 'host:pid' of the worker that ran it (shared studies)
INTERRUPTED = "interrupted"  # in 'result': True when a crash or Stop ended it
RETRY_HISTORY = "retry_history"  # Optuna's system attribute on a heartbeat retry
# -- study attributes ----------------------------------------------------------
ALLGUI = "allgui"  # what the study was made for: objective, data, model, settings
SHARED = "allgui_shared"  # what a worker needs to join a shared study
WORKER_PREFIX = "worker:"  # one per worker: its last sign of life

STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed",
          "RUNNING": "running", "WAITING": "waiting"}
_OWNED_TRIAL = (SETTINGS, HISTORY, RESULT, EPOCHS_RUN, BEST_EPOCH, RETRY_OF, WORKER)


def plain(value: Any) -> Any:
    """JSON-safe copy (Optuna stores attributes as JSON): NaN and inf become None."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def outcome_attrs(history: list[dict[str, Any]], **result: Any) -> dict[str, Any]:
    """The attributes a trial's end writes (few: each is one transaction on
    the study, tens of ms on SQLite): the curve, the outcome, and
    'epochs_run' / 'best_epoch' also at the top level."""
    attrs: dict[str, Any] = {HISTORY: plain(history), RESULT: plain(result)}
    for key in (EPOCHS_RUN, BEST_EPOCH):
        if key in result:
            attrs[key] = int(result[key])
    return attrs


@dataclass(frozen=True)
class TrialRecord:
    """One trial as allgui reads it: Optuna's own fields and allgui's attributes."""

    number: int
    state: str  # 'complete', 'pruned', 'failed', 'running', 'waiting'
    value: float | None  # complete trials only
    params: dict[str, Any]  # the searched parameters, as Optuna holds them
    settings: dict[str, Any] = field(default_factory=dict)
    history: tuple[dict[str, Any], ...] = ()
    result: dict[str, Any] = field(default_factory=dict)
    epochs_run: int | None = None  # the top-level copies ('result' holds them too)
    best_epoch: int | None = None
    retry_of: int | None = None
    worker: str = ""
    retried_as: tuple[int, ...] = ()  # Optuna's heartbeat retries of an earlier trial
    duration_s: float | None = None  # Optuna's start-to-end time
    intermediate: int = 0  # values reported to a pruner
    extra: dict[str, Any] = field(default_factory=dict)  # attributes not allgui's

    @classmethod
    def from_trial(cls, trial: Any) -> TrialRecord:
        """Read a (frozen) Optuna trial."""
        attrs = dict(trial.user_attrs)
        state = STATES.get(trial.state.name, trial.state.name.lower())
        settings, result = attrs.get(SETTINGS), attrs.get(RESULT)
        history = attrs.get(HISTORY)
        retry_of = attrs.get(RETRY_OF)
        return cls(
            number=trial.number, state=state,
            value=trial.value if state == "complete" else None,
            params=dict(trial.params),
            settings=dict(settings) if isinstance(settings, dict) else {},
            history=tuple(h for h in history if isinstance(h, dict))
            if isinstance(history, list) else (),
            result=dict(result) if isinstance(result, dict) else {},
            epochs_run=_int_or_none(attrs.get(EPOCHS_RUN)),
            best_epoch=_int_or_none(attrs.get(BEST_EPOCH)),
            retry_of=_int_or_none(retry_of),
            worker=str(attrs.get(WORKER) or ""),
            retried_as=tuple(trial.system_attrs.get(RETRY_HISTORY) or ()),
            duration_s=trial.duration.total_seconds() if trial.duration else None,
            intermediate=len(trial.intermediate_values),
            extra={k: v for k, v in attrs.items() if k not in _OWNED_TRIAL},
        )

    def to_attrs(self) -> dict[str, Any]:
        """The user attributes that hold this record (those it has)."""
        attrs: dict[str, Any] = dict(self.extra)
        if self.settings:
            attrs[SETTINGS] = plain(self.settings)
        if self.history:
            attrs[HISTORY] = plain(list(self.history))
        if self.result:
            attrs[RESULT] = plain(self.result)
        for key, value in ((EPOCHS_RUN, self.epochs_run), (BEST_EPOCH, self.best_epoch),
                           (RETRY_OF, self.retry_of)):
            if value is not None:
                attrs[key] = value
        if self.worker:
            attrs[WORKER] = self.worker
        return attrs

    @property
    def fixed(self) -> dict[str, Any]:
        """The values the search space held fixed for this trial."""
        fixed = self.settings.get("fixed")
        return dict(fixed) if isinstance(fixed, dict) else {}

    @property
    def all_params(self) -> dict[str, Any]:
        """Fixed and searched values together (searched win)."""
        return {**self.fixed, **self.params}

    @property
    def interrupted(self) -> bool:
        """A crash or Stop ended it: its parameters run again."""
        return bool(self.result.get(INTERRUPTED))

    @property
    def fail_reason(self) -> str:
        return str(self.result.get("fail_reason") or "")

    def epochs_recorded(self) -> int | None:
        """Epochs it ran, as any Optuna tool would find them: allgui's attribute,
        an 'epochs' attribute or a per-epoch list of another tool, else the
        values reported to a pruner."""
        if self.epochs_run is not None:
            return self.epochs_run
        if isinstance(self.extra.get("epochs"), int):
            return int(self.extra["epochs"])
        for v in self.to_attrs().values():
            if isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v):
                return len(v)
        return self.intermediate or None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


HEARTBEAT_S = 20  # a running trial beats this often; silent 3 beats = its worker died
STALE_BEATS = 3


@dataclass(frozen=True)
class SharedStudy:
    """What a shared study's creator records (``SHARED``) for the workers that join it."""

    dataset_fingerprint: str
    image_size: int
    split: dict[str, Any]
    model: dict[str, Any]
    search: dict[str, Any]
    budget: int
    heartbeat_s: int = HEARTBEAT_S

    def to_dict(self) -> dict[str, Any]:
        return plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SharedStudy:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def grace_s(self) -> int:
        return STALE_BEATS * self.heartbeat_s


@dataclass(frozen=True)
class StudyRecord:
    """A study's attributes: what allgui recorded when it made the study
    (``allgui``), what workers need (``shared``), each worker's last sign of
    life (``workers``), and any attribute of another tool (``extra``)."""

    name: str
    direction: str = "maximize"  # 'maximize' or 'minimize'
    allgui: dict[str, Any] | None = None  # None: not made by allgui (or never started)
    shared: dict[str, Any] | None = None
    workers: dict[str, Any] = field(default_factory=dict)  # 'host:pid' -> its last state
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_study(cls, study: Any) -> StudyRecord:
        return cls.from_attrs(study.study_name, study.user_attrs,
                              study.direction.name.lower())

    @classmethod
    def from_attrs(cls, name: str, attrs: dict[str, Any],
                   direction: str = "maximize") -> StudyRecord:
        extra = dict(attrs)
        recorded, shared = extra.get(ALLGUI), extra.get(SHARED)
        workers = {k[len(WORKER_PREFIX):]: extra.pop(k) for k in list(extra)
                   if k.startswith(WORKER_PREFIX)}
        for key, value in ((ALLGUI, recorded), (SHARED, shared)):
            if isinstance(value, dict):
                del extra[key]  # anything else under these names is kept as it is
        return cls(name=name, direction=direction,
                   allgui=recorded if isinstance(recorded, dict) else None,
                   shared=shared if isinstance(shared, dict) else None,
                   workers=workers, extra=extra)

    def to_attrs(self) -> dict[str, Any]:
        attrs = dict(self.extra)
        if self.allgui is not None:
            attrs[ALLGUI] = self.allgui
        if self.shared is not None:
            attrs[SHARED] = self.shared
        attrs.update({WORKER_PREFIX + k: v for k, v in self.workers.items()})
        return attrs

    def made(self, key: str, default: Any = None) -> Any:
        """One value of what allgui recorded when it made the study."""
        return (self.allgui or {}).get(key, default)

    @property
    def model(self) -> dict[str, Any]:
        m = self.made("model")
        return m if isinstance(m, dict) else {}

    @property
    def objective(self) -> str:
        """The objective's name ('' when the study does not say)."""
        return str(self.made("objective") or self.extra.get("objective") or "")

    def objective_label(self) -> str:
        """'validation accuracy' and the like, from what the search recorded."""
        from allgui.core.model.measures import name_of
        from allgui.core.train.objective import LABELS

        name = name_of(self.objective)
        return str(self.extra.get("objective_label") or LABELS.get(name, name or "objective"))
