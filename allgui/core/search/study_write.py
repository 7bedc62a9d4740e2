"""The one writer of a project's Optuna study: creating or resuming it (checked
against what it was made for), and what a trial records as it runs and ends.
Everything is read back through :mod:`allgui.core.search.study`.
"""

from __future__ import annotations

from typing import Any

from allgui import __version__
from allgui.core.model.measures import name_of
from allgui.core.project import Project
from allgui.core.search import record as R
from allgui.core.search.record import plain
from allgui.core.search.settings import (
    SearchError,
    SearchSettings,
    check_resume,
    make_pruner,
    make_sampler,
)
from allgui.core.search.study import (
    NEW_STUDY,
    check_made_by_allgui,
    quiet_optuna,
    storage_for,
    study_record,
    trial_id,
)


def open_study(project: Project, settings: SearchSettings, data_key: str = "",
               class_names: tuple[str, ...] = ()):
    """Create or load the project's study, checking it was made for the same
    objective, data and backbone. Returns ``(study, storage, seed_offset)``:
    on resume the sampler's seed is the study seed plus the trials already
    there, so resumed random draws do not repeat old ones."""
    optuna = quiet_optuna()
    storage = storage_for(project.storage_url)
    name = settings.study_name
    existing = {s.study_name: s for s in optuna.get_all_study_summaries(storage)}
    seed_offset = existing[name].n_trials if name in existing else 0
    if seed_offset:  # read (nothing written) before the study is opened for the search
        check_made_by_allgui(optuna.load_study(study_name=name, storage=storage))
    study = optuna.create_study(
        storage=storage, study_name=name, direction="maximize", load_if_exists=True,
        sampler=make_sampler(settings, seed_offset), pruner=make_pruner(settings),
    )
    m = project.settings.model
    model = {"backbone": m.backbone, "weights": m.weights, "finetune_stages": m.finetune_stages}
    made = study_record(study).allgui
    # A study whose first start failed (hub unreachable, say) holds no trial:
    # nothing would be mixed, so it takes the new settings instead of refusing.
    if made and seed_offset:  # seed_offset: the trials the study already holds
        if name_of(str(made.get("objective"))) != settings.objective:
            raise SearchError(
                f"The study '{name}' searched for {made.get('objective')}; to search for "
                f"{settings.objective}, " + NEW_STUDY
            )
        if data_key and made.get("data_key") and made["data_key"] != data_key:
            raise SearchError(
                f"The study '{name}' was run on other images or another split; " + NEW_STUDY
            )
        if made.get("model") and made["model"] != model:
            raise SearchError(
                f"The study '{name}' was run with backbone {made['model'].get('backbone')} "
                f"(weights {made['model'].get('weights')}); for another backbone or "
                "weights, " + NEW_STUDY
            )
        check_resume(name, made.get("settings") or {}, settings)
    else:
        study.set_user_attr(R.ALLGUI, {
            "allgui_version": __version__,
            "objective": settings.objective,
            "data_key": data_key,
            "model": model,
            "class_names": list(class_names),
            "settings": plain(settings.to_dict()),
            "sampler": settings.sampler_settings(),
            "pruner": settings.pruner_settings(),
        })
    name_metric(study, settings.objective)
    return study, storage, seed_offset


def name_metric(study, objective: str) -> None:
    """The objective's name on the study itself, so that optuna-dashboard and
    other Optuna tools label it ("validation accuracy", not "Objective 0")."""
    import warnings

    from allgui.core.train.objective import LABELS

    if study.metric_names is None:
        with warnings.catch_warnings():  # set_metric_names is 'experimental' in Optuna
            warnings.simplefilter("ignore")
            study.set_metric_names([LABELS.get(objective, objective)])


def set_shared(study, shared: R.SharedStudy) -> None:
    study.set_user_attr(R.SHARED, shared.to_dict())


def say_worker(storage, study_id: int, name: str, value: dict[str, Any]) -> None:
    storage.set_study_user_attr(study_id, R.WORKER_PREFIX + name, value)


def recover_interrupted(study, storage) -> int:
    """Mark trials left RUNNING by a crash as FAIL and queue their
    parameters again. Call only while holding the project's study lock."""
    from optuna.trial import TrialState

    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        tid = trial_id(storage, study.study_name, t.number)
        storage.set_trial_user_attr(tid, R.RESULT, {
            "fail_reason": "interrupted: allgui stopped while this trial ran",
            R.INTERRUPTED: True})
        storage.set_trial_state_values(tid, TrialState.FAIL)
        if t.params:
            requeue(study, t.params, t.number)
        n += 1
    return n


def requeue(study, params: dict[str, Any], number: int) -> None:
    """Queue ``params`` again, as a retry of trial ``number``."""
    study.enqueue_trial(params, user_attrs={R.RETRY_OF: number})


def write_settings(trial, settings: dict[str, Any]) -> None:
    trial.set_user_attr(R.SETTINGS, plain(settings))


def write_worker(trial, name: str) -> None:
    trial.set_user_attr(R.WORKER, name)


def write_outcome(trial, history: list, **result: Any) -> None:
    for key, value in R.outcome_attrs(history, **result).items():
        trial.set_user_attr(key, value)


def write_curve(study, trial, history: list) -> None:
    """Every epoch's objective as the trial's Optuna intermediate values, so
    optuna-dashboard draws the learning curves. Without a pruner nothing was
    reported during the trial; here the values go in at its end, through
    Optuna's public ``Trial.report`` (one write per epoch not yet reported)."""
    import math

    values = [(int(h["epoch"]), float(h["objective"])) for h in history
              if isinstance(h.get("objective"), (int, float)) and math.isfinite(h["objective"])]
    stored = trial.storage.get_trial(trial_id(trial.storage, study.study_name, trial.number))
    for step, v in values:
        if step not in stored.intermediate_values:
            trial.report(v, step)


def fail(study, trial, reason: str, history: list, epochs_run: int, interrupted: bool) -> None:
    from optuna.trial import TrialState

    write_outcome(trial, history, fail_reason=reason, epochs_run=epochs_run,
                  **({R.INTERRUPTED: True} if interrupted else {}))
    write_curve(study, trial, history)
    study.tell(trial, state=TrialState.FAIL)
