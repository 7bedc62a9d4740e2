"""What the Optimize tab's jobs run, each a plain function called on a job's
thread: torch and optuna are imported there, never on the GUI thread."""

from __future__ import annotations

from allgui.core.project import Project


def compute_importances(project: Project, study_name: str):
    """Parameter importances of the project's study (read only)."""
    import optuna

    from allgui.core.search.importance import parameter_importances

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=study_name, storage=project.storage_url)
    return parameter_importances(study, "ped-anova")


def read_study(project: Project, settings):
    """The project's study as it stands (torch and optuna load on the job's thread)."""
    from allgui.core.search.runner import load_search_result

    return load_search_result(project, settings)


def search(project: Project, settings, model_before, sink, cancel):
    """The search, on the job's thread: torch and optuna load there."""
    from allgui.core.search.runner import SearchError, run_search

    try:
        return run_search(project, settings, sink, cancel)
    except SearchError:  # the study refused them: keep the old model settings
        project.update(model=model_before)
        raise
