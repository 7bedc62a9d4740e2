"""What a validation batch trains: the configuration chosen (a trial of the
study, its best, or one entered by hand), the model it names, and the full
settings batch.json records for it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from allgui.core.errors import ProjectError
from allgui.core.model import params as registry
from allgui.core.model.params import untuned_defaults, with_untuned
from allgui.core.project import Project
from allgui.core.search.record import StudyRecord, TrialRecord
from allgui.core.validation.provenance import StudySummary
from allgui.core.validation.run_record import Configuration

if TYPE_CHECKING:
    from allgui.core.validation.run import ValidationSettings

KNOWN = registry.NAMES  # the settings a run takes
# The baseline a user gets with --baseline default: allgui's untuned defaults.
DEFAULT_BASELINE = untuned_defaults()
# The model settings a trial recorded, rebuilt for its validation runs.
MODEL_NAMES = ("backbone", "weights", "finetune_stages")


def _trial_params(trial: TrialRecord, study: StudyRecord | None = None) -> dict[str, Any]:
    """A trial's full configuration: its searched parameters over whatever
    fixed values the search recorded with it, and the model it trained
    (backbone, weights, finetune_stages) as the trial (else its study)
    recorded it. Raises ProjectError when the model cannot be known: the
    project's settings may have changed since, and validating another model
    than the one the search chose would mislead."""
    params: dict[str, Any] = {}
    recorded = trial.settings
    study_model = study.model if study is not None else {}
    for name in MODEL_NAMES:
        value = recorded.get(name, study_model.get(name))
        if value is None or value == "":
            raise ProjectError(
                f"The study does not record which model trial {trial.number} trained "
                f"(its {name.replace('_', ' ')}), so the validation could train another model "
                "than the one the search chose. Validate a configuration entered by hand "
                "instead, or run a new search.",
                f"trial settings: {sorted(recorded)}; study model: {study_model}",
            )
        params[name] = value
    params.update({k: x for k, x in trial.fixed.items() if k in KNOWN and x is not None})
    params.update({k: v for k, v in trial.params.items() if k in KNOWN})
    return params


def choose_configuration(project: Project, settings: ValidationSettings
                         ) -> tuple[Configuration, StudySummary]:
    """The configuration to validate and what the study says about itself."""
    from allgui.core.search import study as S

    study = S.project_study(project)
    info = StudySummary()
    record = S.study_record(study) if study is not None else None
    if record is not None:
        made_settings = record.made("settings") or {}
        seed = made_settings.get("seed") if isinstance(made_settings, dict) else None
        info = StudySummary(name=record.name, direction=record.direction,
                            objective=record.objective_label(),
                            data_key=str(record.made("data_key", "") or ""),
                            seed=seed if isinstance(seed, int) else None)
    if settings.params:
        return Configuration(dict(settings.params), "entered by the user"), info
    if study is None:
        raise ProjectError("This project has no study yet: run a search first "
                           "(the Optimize tab's Start search, or allgui optimize), or enter a configuration to validate.")
    S.check_made_by_allgui(study)  # a plain Optuna study names no model allgui can train
    done = S.finished(S.trials(study))
    if not done:
        raise ProjectError("The study has no finished trials yet: let the search finish at "
                           "least one trial, or enter a configuration to validate.")
    if settings.trial is None:
        best = S.best_trial(done, maximize=record is None or record.direction == "maximize")
        assert best is not None
        odd = S.not_finite(S.trials(study))  # said, never skipped silently
        return Configuration(_trial_params(best, record),
                             f"trial {best.number} (best of the study"
                             + (f"; {S.not_finite_note(odd)[:-1]}" if odd else "") + ")",
                             best.number), info
    match = [t for t in done if t.number == settings.trial]
    if not match:
        raise ProjectError(f"Trial {settings.trial} is not a finished trial of the study; "
                           f"finished trials: {', '.join(str(t.number) for t in done[:30])}.")
    return (Configuration(_trial_params(match[0], record), f"trial {settings.trial}",
                          settings.trial), info)


def model_and_hparams(project: Project, params: dict[str, Any], n_classes: int):
    """The model and optimiser settings of ``params``: a trial's own model
    settings when it recorded them, else the project's (a configuration
    entered by hand); the untuned defaults for anything not given."""
    from allgui.core.train.hparams import configuration  # torch: on the job's thread

    m = project.settings.model
    stages = params.get("finetune_stages")

    return configuration(
        params, backbone=m.backbone, weights=str(params.get("weights") or m.weights),
        finetune_stages=int(m.finetune_stages if stages is None else stages),
        n_classes=n_classes)


def recorded_params(params: dict[str, Any], cfg) -> dict[str, Any]:
    """What a configuration trains, in full, for batch.json."""
    return {**with_untuned(params), "backbone": cfg.backbone, "weights": cfg.weights,
            "finetune_stages": cfg.finetune_stages}
