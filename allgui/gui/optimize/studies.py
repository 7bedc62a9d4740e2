"""The Optimize tab's study picker: the project's studies (trials, best
value, objective, last change), read off the GUI thread through the one
study reader, :func:`allgui.core.search.study.list_studies`."""

from __future__ import annotations

from allgui.core.project import Project
from allgui.gui.widgets.elided import ElidedCombo


def read_studies(project: Project):
    """Every study of the project (on a job's thread)."""
    from allgui.core.search.study import list_studies

    return list_studies(project)


def describe_study(info) -> str:
    best = f"best {info.best_value:.4f}" if info.best_value is not None else "no result yet"
    when = info.last_change.strftime("%Y-%m-%d %H:%M") if info.last_change else "never run"
    objective = f", {info.objective}" if info.objective else ""
    # the trials that count towards the budget, as "Resume search (k of n done)" counts
    others = info.n_trials - info.n_counted
    more = f" (and {others} stopped or running)" if others > 0 else ""
    return (f"{info.name}: {info.n_counted} trial{'s' if info.n_counted != 1 else ''} done"
            f"{more}, {best}{objective}, last change {when}")


class StudyPicker(ElidedCombo):
    """Lists the studies; the item data is the study's name. A name typed in
    the form that is not a study yet is listed as new."""

    def __init__(self) -> None:
        super().__init__(min_chars=14)
        self.setToolTip("The project's studies: pick one to see it and continue it; type a new "
                        "name under Study name to start another")
        self.infos: tuple = ()

    def fill(self, infos, current: str) -> None:
        self.infos = tuple(infos)
        self.blockSignals(True)
        self.clear()
        for info in self.infos:
            self.addItem(describe_study(info), info.name)
            self.setItemData(self.count() - 1, describe_study(info), 3)  # tooltip role
        if current and current not in self.names():
            self.addItem(f"{current}: new study, no trial yet", current)
        self.show_current(current)
        self.blockSignals(False)

    def show_searching(self, name: str, done: int) -> None:
        """Study ``name``'s line while a search runs in it: its trials done so far
        (the list is read again when the search ends)."""
        i = self.findData(name)
        if i >= 0:
            text = f"{name}: searching, {done} complete so far"
            self.setItemText(i, text)
            self.setItemData(i, text, 3)  # tooltip role

    def names(self) -> list[str]:
        return [info.name for info in self.infos]

    def show_current(self, name: str) -> None:
        i = self.findData(name)
        if i < 0 and name:
            self.addItem(f"{name}: new study, no trial yet", name)
            i = self.count() - 1
        was = self.blockSignals(True)
        self.setCurrentIndex(i)
        self.blockSignals(was)
