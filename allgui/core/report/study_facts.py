"""What a report says about the search: read from the project's Optuna
study as any Optuna tool would see it (no allgui-specific storage)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from allgui.core.errors import ProjectError
from allgui.core.project import Project
from allgui.core.search.settings import project_study_name

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



def read_study(project: Project, importances: bool = True) -> StudyFacts | None:
    """The project's study, or ``None`` when the project has none yet."""
    import optuna

    if not project.settings.storage and not project.study_path.is_file():
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        names = optuna.study.get_all_study_names(storage=project.storage_url)
        name = project_study_name(project, names)
        if name is None:
            return None
        study = optuna.load_study(study_name=name, storage=project.storage_url)
        all_trials = study.get_trials(deepcopy=False)
    except Exception as exc:  # storage errors come in many kinds
        raise ProjectError("The project's study cannot be read.", f"{type(exc).__name__}: {exc}"
                           ) from exc
    TS = optuna.trial.TrialState
    complete = [(t, t.value) for t in all_trials if t.state == TS.COMPLETE
                and t.value is not None and math.isfinite(t.value)]
    trials = tuple(
        TrialFacts(
            number=t.number,
            value=float(value),
            params=dict(t.params),
            epochs=_epochs(t),
            duration_s=t.duration.total_seconds() if t.duration else None,
            best_epoch=t.user_attrs.get("best_epoch")
            if isinstance(t.user_attrs.get("best_epoch"), int) else None,
        )
        for t, value in complete
    )
    attrs = dict(study.user_attrs)
    objective = objective_label(attrs)
    facts = StudyFacts(
        name=name,
        direction="maximize" if study.direction == optuna.study.StudyDirection.MAXIMIZE
        else "minimize",
        objective=objective,
        n_complete=len(complete),
        n_pruned=sum(t.state == TS.PRUNED for t in all_trials),
        n_failed=sum(t.state == TS.FAIL for t in all_trials),
        trials=trials,
        settings=attrs,
    )
    if importances:
        values, notes = _importances(study, len(complete))
        facts = dataclasses.replace(facts, importances=values, importance_notes=notes)
    return facts


def objective_label(attrs: dict[str, Any]) -> str:
    """'validation accuracy' and the like, from what the search recorded."""
    from allgui.core.train.objective import LABELS

    recorded = _recorded(attrs)
    name = str(recorded.get("objective") or attrs.get("objective") or "")
    return str(attrs.get("objective_label") or LABELS.get(name, name or "objective"))


def _recorded(attrs: dict[str, Any]) -> dict[str, Any]:
    """What allgui recorded under the study's ``allgui`` attribute ({} if nothing)."""
    recorded = attrs.get("allgui")
    return recorded if isinstance(recorded, dict) else {}


def _plain_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_plain_value(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return ", ".join(_plain_value(x) for x in v)
    return str(v)


def settings_rows(facts: StudyFacts, project_search: dict[str, Any]) -> list[tuple[str, str]]:
    """(setting, value) rows: the space in words, then the sampler, pruner and
    run settings, as the study recorded them (the project's otherwise)."""
    recorded = _recorded(facts.settings)
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
        rows += [(f"Search space: {k}", _plain_value(v)) for k, v in sorted(tables.items())]
    for key in ("sampler", "pruner"):
        if recorded.get(key):
            rows.append((key.capitalize(), _plain_value(recorded[key])))
    rows += [(k.replace("_", " "), _plain_value(v)) for k, v in sorted(scalars.items())]
    others = {k: v for k, v in facts.settings.items() if k != "allgui"}
    rows += [(k, _plain_value(v)) for k, v in sorted(others.items())
             if not (isinstance(v, list) and len(v) > 12)]
    return rows


def _epochs(trial) -> int | None:
    for key in ("epochs_run", "epochs"):
        v = trial.user_attrs.get(key)
        if isinstance(v, int):
            return v
    for v in trial.user_attrs.values():
        if isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v):
            return len(v)
    return len(trial.intermediate_values) or None


def _importances(study, n_complete: int) -> tuple[dict[str, dict[str, float]], tuple[str, ...]]:
    from optuna.importance import (
        FanovaImportanceEvaluator,
        PedAnovaImportanceEvaluator,
        get_param_importances,
    )

    if n_complete < 3:
        return {}, (f"{n_complete} finished trial(s): too few to estimate importances.",)
    out: dict[str, dict[str, float]] = {}
    notes = []
    for method, evaluator in (("fANOVA", FanovaImportanceEvaluator(seed=0)),
                              ("PED-ANOVA", PedAnovaImportanceEvaluator())):
        try:
            out[method] = {k: float(v) for k, v in get_param_importances(
                study, evaluator=evaluator).items()}
        except Exception as exc:  # too few distinct values, one parameter, ...
            notes.append(f"{method}: not available ({type(exc).__name__}: {exc})")
    if n_complete < 10:
        notes.append(f"Importances from only {n_complete} trials are rough.")
    return out, tuple(notes)
