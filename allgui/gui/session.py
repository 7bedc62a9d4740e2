"""What the window has open, in one place: the project, its dataset, the
applied split, the selected study, the current validation batch and the
loaded model. Tabs read it here and change it only through its methods;
every change is a signal, and each tab redraws from it, so what the window
shows is what the engine uses.

Edits a user has made but not applied (the split form) are registered with
:meth:`Session.set_unapplied`; jobs that would use the project refuse to
start while any is pending (:meth:`Session.refuse_unapplied`).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from allgui.core.project import Project

SPLIT_WORDS = {"patient": "by patient", "cnmc-folds": "the dataset's own folds",
               "image": "by image (leaky)"}


def split_words(method: str) -> str:
    return SPLIT_WORDS.get(method, method)


class Session(QObject):
    project_changed = Signal(object)  # Project | None
    dataset_changed = Signal(object)  # the Dataset tab's DatasetView | None
    split_changed = Signal(object)  # SplitSettings applied to the project
    study_changed = Signal(str)  # the study the Optimize tab shows and searches
    batch_changed = Signal(object)  # the Validate tab's BatchView | None
    model_changed = Signal(object)  # the Classify tab's loaded Classifier | None
    unapplied_changed = Signal()
    changed = Signal()  # any of the above

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.dataset: Any = None
        self.study = ""
        self.batch: Any = None
        self.model: Any = None
        self.synthetic = False  # the project's data are generated (the demo), not real cells
        self.engine_ready = False  # the engine's libraries are imported (device.warm_up_engine)
        self._unapplied: dict[str, str] = {}  # what -> words for the user

    # -- reading -----------------------------------------------------------------
    @property
    def split(self):
        """The split the engine uses: the project's, as applied."""
        return self.project.settings.split if self.project is not None else None

    @property
    def dataset_path(self) -> str:
        return self.project.settings.dataset.path if self.project is not None else ""

    def describe(self) -> str:
        """One line naming what the engine uses now."""
        if self.project is None:
            return ""
        parts = [f"dataset {self.dataset_path or '(none yet)'}"]
        if self.split is not None:
            parts.append(f"split {split_words(self.split.method)}")
        if self.study:
            parts.append(f"study '{self.study}'")
        return "; ".join(parts)

    # -- changing ----------------------------------------------------------------
    def open(self, project: Project | None) -> None:
        """Another project (or none): everything known about the last one goes."""
        self.project = project
        self.dataset = self.batch = None
        self.synthetic = False
        self._unapplied.clear()
        self.study = ""
        if project is not None:
            self.study = _study_name_of(project)
        self.project_changed.emit(project)
        self.unapplied_changed.emit()
        self.changed.emit()

    def set_dataset(self, view: Any) -> None:
        self.dataset = view
        self.synthetic = bool(view is not None and view.index.synthetic)
        self.dataset_changed.emit(view)
        self.changed.emit()

    def set_synthetic(self, synthetic: bool) -> None:
        self.synthetic = synthetic
        self.changed.emit()

    def set_dataset_path(self, path: str) -> None:
        """Give a project without a dataset its folder (never re-points one that has one)."""
        import dataclasses

        assert self.project is not None
        if self.project.settings.dataset.path and self.project.settings.dataset.path != path:
            raise ValueError("the project already has a dataset")
        self.project.update(dataset=dataclasses.replace(self.project.settings.dataset, path=path))
        self.changed.emit()

    def apply_split(self, settings) -> None:
        assert self.project is not None
        self.project.update(split=settings)
        self.set_unapplied("split", "")
        self.split_changed.emit(settings)
        self.changed.emit()

    def select_study(self, name: str) -> None:
        name = name.strip()
        if name == self.study:
            return
        self.study = name
        if self.project is not None:  # what the search, validation and the report read
            self.project.update(search={**self.project.settings.search, "study_name": name})
        self.study_changed.emit(name)
        self.changed.emit()

    def set_batch(self, view: Any) -> None:
        self.batch = view
        self.batch_changed.emit(view)
        self.changed.emit()

    def set_model(self, classifier: Any) -> None:
        self.model = classifier
        self.model_changed.emit(classifier)
        self.changed.emit()

    # -- edits not applied ---------------------------------------------------------
    def set_unapplied(self, what: str, words: str) -> None:
        """``words`` says what is edited but not applied; '' when it is applied
        or discarded."""
        before = dict(self._unapplied)
        if words:
            self._unapplied[what] = words
        else:
            self._unapplied.pop(what, None)
        if before != self._unapplied:
            self.unapplied_changed.emit()

    def unapplied(self) -> list[str]:
        return list(self._unapplied.values())

    def refuse_unapplied(self, show_error, what: str) -> bool:
        """True, having said why, while an edit is not applied."""
        pending = self.unapplied()
        if not pending:
            return False
        show_error(f"Apply or discard your changes before {what}: " + "; ".join(pending) + ".",
                   "Changes not applied")
        return True


def _study_name_of(project: Project) -> str:
    name = project.settings.search.get("study_name")
    return name.strip() if isinstance(name, str) and name.strip() else "search"
