"""What the Optimize tab's jobs run, each a plain function called on a job's
thread: torch and optuna are imported there, never on the GUI thread."""

from __future__ import annotations

from allgui.core.project import Project


def compute_importances(project: Project, study_name: str, sink=None, cancel=None):
    """Parameter importances of the project's study (read only): the estimate
    the report and the command line show (fANOVA over seeds, PED-ANOVA beside),
    each step reported to ``sink`` so a large study is never a silent wait."""
    from allgui.core.events import Progress
    from allgui.core.search.importance import estimate_importances
    from allgui.core.search.study import load_study

    def progress(done: int, total: int, message: str) -> None:
        if sink is not None:
            sink(Progress("importances", phase="importances", done=done, total=total,
                          message=message))

    return estimate_importances(load_study(project, study_name), progress=progress,
                                cancel=cancel)


def read_study(project: Project, settings):
    """The project's study as it stands."""
    from allgui.core.search.study import load_search_result

    return load_search_result(project, settings)


def search(project: Project, settings, model, sink, cancel):
    """The search with the form's model settings; a study that refuses them
    leaves the project's as they were."""
    from allgui.core.search.runner import search_with_model

    return search_with_model(project, settings, model, sink, cancel)
