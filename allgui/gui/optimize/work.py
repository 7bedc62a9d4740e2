"""What the Optimize tab's jobs run, each a plain function called on a job's
thread: torch and optuna are imported there, never on the GUI thread."""

from __future__ import annotations

from allgui.core.project import Project


def compute_importances(project: Project, study_name: str):
    """Parameter importances of the project's study (read only): the estimate
    the report and the command line show (fANOVA over seeds, PED-ANOVA beside)."""
    from allgui.core.search.importance import estimate_importances
    from allgui.core.search.study import load_study

    return estimate_importances(load_study(project, study_name))


def read_study(project: Project, settings):
    """The project's study as it stands."""
    from allgui.core.search.study import load_search_result

    return load_search_result(project, settings)


def search(project: Project, settings, model, sink, cancel):
    """The search with the form's model settings; a study that refuses them
    leaves the project's as they were."""
    from allgui.core.search.runner import search_with_model

    return search_with_model(project, settings, model, sink, cancel)
