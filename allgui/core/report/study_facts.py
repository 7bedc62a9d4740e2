"""What a report says about the search: read from the project's Optuna
study as any Optuna tool would see it (no allgui-specific storage)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from allgui.core.errors import AllguiError, Cancelled, ProjectError
from allgui.core.files.text import count
from allgui.core.project import Project
from allgui.core.search.record import ALLGUI, StudyRecord

IMPORTANCE_METHODS = ("fANOVA", "PED-ANOVA")


@dataclass(frozen=True)
class TrialFacts:
    number: int
    value: float
    params: dict[str, Any]
    epochs: int | None
    duration_s: float | None
    best_epoch: int | None = None


@dataclass(frozen=True)
class StudyFacts:
    name: str
    direction: str  # 'maximize' or 'minimize'
    objective: str  # in words, e.g. 'validation balanced accuracy'
    n_complete: int
    n_pruned: int
    n_failed: int
    trials: tuple[TrialFacts, ...]  # finished trials, by number
    settings: dict[str, Any]  # sampler, space, epochs...: the study's own record
    importances: dict[str, dict[str, float]] = field(default_factory=dict)  # method -> param -> v
    importance_notes: tuple[str, ...] = ()
    estimate: Any = None  # the ImportanceEstimate the figures come from (search.importance)
    startup_trials: int | None = None  # the sampler's random trials, as the study recorded them
    startup_numbers: frozenset[int] = frozenset()  # the trials TPE drew at random (startup)
    not_finite: tuple[int, ...] = ()  # complete trials whose value is inf or NaN: never best

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"

    def top(self, k: int = 5) -> tuple[TrialFacts, ...]:
        ordered = sorted(self.trials, key=lambda t: t.value, reverse=self.maximize)
        return tuple(ordered[:k])

    @property
    def best(self) -> TrialFacts | None:
        top = self.top(1)
        return top[0] if top else None



def read_study(project: Project, importances: bool = True, progress=None,
               cancel=None) -> StudyFacts | None:
    """The project's study, or ``None`` when the project has none yet.
    ``progress(done, total, message)`` follows the importances, the slow part."""
    from allgui.core.search import study as S

    study = S.project_study(project)
    if study is None:
        return None
    try:
        records = S.trials(study)
    except Exception as exc:  # storage errors come in many kinds
        raise ProjectError("The project's study cannot be read.", f"{type(exc).__name__}: {exc}"
                           ) from exc
    record = S.study_record(study)
    complete = S.finished(records)
    trials = tuple(
        TrialFacts(number=t.number, value=float(t.value), params=dict(t.params),
                   epochs=t.epochs_recorded(), duration_s=t.duration_s,
                   best_epoch=t.best_epoch)
        for t in complete if t.value is not None
    )
    facts = StudyFacts(
        name=record.name,
        direction=record.direction,
        objective=record.objective_label(),
        n_complete=len(complete),
        n_pruned=sum(t.state == "pruned" for t in records),
        n_failed=sum(t.state == "failed" for t in records),
        trials=trials,
        settings=record.to_attrs(),
        startup_trials=_startup_trials(record),
        startup_numbers=startup_numbers(records, _startup_trials(record)),
        not_finite=S.not_finite(records),
    )
    if importances:
        estimate, notes = _importances(study, len(complete), progress, cancel)
        values = {} if estimate is None else {
            "fANOVA": estimate.as_dict(), "PED-ANOVA": estimate.ped_anova()}
        facts = dataclasses.replace(facts, importances={k: v for k, v in values.items() if v},
                                    importance_notes=notes, estimate=estimate)
    return facts


def startup_numbers(records, n_startup: int | None) -> frozenset[int]:
    """The trials TPE sampled at random: those that started while fewer than
    ``n_startup`` trials had finished (complete or pruned), as Optuna counts."""
    if n_startup is None:
        return frozenset()
    done, out = 0, set()
    for r in sorted(records, key=lambda r: r.number):
        if done < n_startup:
            out.add(r.number)
        done += r.state in ("complete", "pruned")
    return frozenset(out)


def _startup_trials(record: StudyRecord) -> int | None:
    """The random (startup) trials TPE ran before modelling, as the study recorded them."""
    sampler = (record.allgui or {}).get("sampler") or {}
    value = sampler.get("n_startup_trials") if isinstance(sampler, dict) else None
    return int(value) if isinstance(value, (int, float)) else None


def plain_value(v: Any) -> str:
    """A setting's value as report text: 4 significant digits, lists and
    tables flattened to ``k=v, ...``."""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={plain_value(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return ", ".join(plain_value(x) for x in v)
    return str(v)


def settings_rows(facts: StudyFacts, project_search: dict[str, Any]) -> list[tuple[str, str]]:
    """(setting, value) rows: the space in words, then the sampler, pruner and
    run settings, as the study recorded them (the project's otherwise)."""
    recorded: dict[str, Any] = StudyRecord.from_attrs(facts.name, facts.settings).allgui or {}
    raw = dict(recorded.get("settings") or project_search or {})
    tables = {k: v for k, v in raw.items() if isinstance(v, dict)}
    scalars = {k: v for k, v in raw.items() if not isinstance(v, dict)}
    rows: list[tuple[str, str]] = []
    try:
        from allgui.core.search.space import SearchSpace

        space = SearchSpace.from_dict(tables) if tables or recorded else None
    except Exception:  # an older or hand-edited space: show it as recorded
        space = None
    if space is not None:
        rows += [("Search space", line) for line in space.describe()]
    else:
        rows += [(f"Search space: {k}", plain_value(v)) for k, v in sorted(tables.items())]
    for key in ("sampler", "pruner"):
        if recorded.get(key):
            rows.append((key.capitalize(), plain_value(recorded[key])))
    rows += [(k.replace("_", " "), plain_value(v)) for k, v in sorted(scalars.items())]
    others = {k: v for k, v in facts.settings.items() if k != ALLGUI}
    rows += [(k, plain_value(v)) for k, v in sorted(others.items())
             if not (isinstance(v, list) and len(v) > 12)]
    return rows


def _importances(study, n_complete: int, progress=None, cancel=None):
    """The shared estimate (fANOVA over seeds beside PED-ANOVA) and the notes a
    reader needs with it; ``(None, notes)`` when it cannot be computed."""
    from allgui.core.search.importance import estimate_importances

    if n_complete < 3:
        return None, (f"{count(n_complete, 'finished trial')}: too few to estimate importances.",)
    try:
        estimate = estimate_importances(study, progress=progress, cancel=cancel)
    except Cancelled:
        raise
    except AllguiError as exc:  # too few distinct values, one parameter, ...
        return None, (f"Importances: not available ({exc.details or exc.message})",)
    return estimate, estimate.warnings
