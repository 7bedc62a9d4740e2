"""The Classify tab: load an exported model, drop images or folders, read
each answer (class, probability, margin, uncertain flag, heatmap), save CSV.
Its jobs run the functions of :mod:`allgui.gui.classify.work`.

Imports only :mod:`allgui.core.infer` (numpy, Pillow, onnxruntime), never
torch, so it works in the classify-only build.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from allgui.core.errors import AllguiError, Cancelled
from allgui.core.files.atomic import atomic_write_text
from allgui.core.files.text import count, terminal_text
from allgui.core.plain_errors import plain_message
from allgui.core.project import Project
from allgui.gui import dialogs
from allgui.gui.classify.engine_choice import ENGINE_KEY, EngineChoice
from allgui.gui.classify.model_text import ModelText
from allgui.gui.classify.results import fit_results, result_cells, results_table
from allgui.gui.classify.results import html_text as _html
from allgui.gui.classify.selected import SelectedImage
from allgui.gui.classify.truth import summary_html
from allgui.gui.classify.work import ClassifyOutcome, classify_in_window, expand_paths, latest_model
from allgui.gui.jobs import stateless
from allgui.gui.tab import ProjectTab
from allgui.gui.widgets.elided import scrolled
from allgui.gui.widgets.progress import JobProgress

if TYPE_CHECKING:  # onnxruntime loads only when a model is used
    from allgui.core.infer.folder import FolderRow


class ClassifyTab(SelectedImage, ProjectTab):
    title = "C&lassify"
    needs_training_engine = False

    def __init__(self, window) -> None:
        super().__init__(window)
        self.classifier = None
        self.results: list[FolderRow] = []
        self._pending: list[str] = []
        outer = QVBoxLayout(self)
        # Two columns: the model, actions and results on the left; the selected
        # picture on the right, the whole height of the tab (on a 1280x800
        # screen it would otherwise get what the model's box leaves).
        columns = QSplitter(Qt.Horizontal)
        # the model's box above the results, in a splitter: its description can be
        # given the whole column (it is long: metrics, provenance, the notice)
        left = QSplitter(Qt.Vertical)
        left.setChildrenCollapsible(False)
        self.model_splitter = left
        results = QWidget()
        left_column = QVBoxLayout(results)
        left_column.setContentsMargins(0, 0, 0, 0)

        model_box = QGroupBox("Model")
        model_layout = QVBoxLayout(model_box)
        row = QHBoxLayout()
        self.load_button = QPushButton("Load model…")
        self.load_button.setToolTip("An .onnx file exported by allgui (you can also drop it here)")
        self.load_button.clicked.connect(self.choose_model)
        self.model_label = QLabel("No model loaded. The project's latest exported model loads "
                                  "by itself; or load one.")
        row.addWidget(self.load_button, 0, Qt.AlignTop)
        self.engine_choice = EngineChoice(self.settings)  # reloads the model when changed
        self.engine_choice.currentIndexChanged.connect(self._engine_changed)
        row.addWidget(self.engine_choice, 0, Qt.AlignTop)
        # two lines kept for it (a long file name scrolls): as a wrapped label, it would
        # hold the model's text at full height and squeeze the image below
        row.addWidget(scrolled(self.model_label, lines=2, grow=False), 1)
        model_layout.addLayout(row)
        self.model_info = ModelText()
        self.model_info.setPlaceholderText("The model's metadata: classes, input size, decision "
                                           "threshold, metrics and where it came from.")
        model_layout.addWidget(self.model_info, 1)
        left.addWidget(model_box)
        left.addWidget(results)
        left.setStretchFactor(0, 0)
        left.setStretchFactor(1, 1)

        actions = QGridLayout()  # two by two: the picture's column keeps the width
        self.add_images_button = QPushButton("Classify images…")
        self.add_images_button.clicked.connect(self.choose_images)
        self.add_folder_button = QPushButton("Classify a folder…")
        self.add_folder_button.clicked.connect(self.choose_folder)
        self.save_button = QPushButton("Save results as CSV…")
        self.save_button.clicked.connect(self.choose_csv)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear)
        hint = QLabel("…or drop images or folders anywhere on the window.")
        for i, w in enumerate((self.add_images_button, self.add_folder_button,
                               self.save_button, self.clear_button)):
            actions.addWidget(w, i // 2, i % 2)
        actions.addWidget(hint, 0, 2, 2, 1)
        actions.setColumnStretch(2, 1)
        hint.setWordWrap(True)
        left_column.addLayout(actions)

        self.table = results_table()
        self.table.itemSelectionChanged.connect(self._show_selected)
        left_column.addWidget(self.table, 1)
        self.truth_label = QLabel("")
        self.truth_label.setTextFormat(Qt.RichText)
        left_column.addWidget(scrolled(self.truth_label, lines=4))  # long: scrolls in place
        columns.addWidget(left)
        columns.addWidget(self._build_viewer())
        columns.setChildrenCollapsible(False)
        columns.setStretchFactor(0, 1)  # the picture as wide as the results
        columns.setStretchFactor(1, 1)
        outer.addWidget(columns, 1)

        self.progress = JobProgress()
        self.progress.stop_requested.connect(self.stop)
        outer.addWidget(self.progress)
        self._update_buttons()

    def save_choices(self) -> None:
        self.settings.set_choice("classify/heatmap", self.heatmap_check.isChecked())
        self.settings.set_choice("classify/opacity", self.opacity.value())

    # -- model -----------------------------------------------------------------
    def project_changed(self, project: Project | None) -> None:
        if self.classifier is None:
            path = latest_model(project)
            if path is not None:
                self.load_model(str(path))

    def choose_model(self) -> None:
        start = str(self.project.models_dir) if self.project else ""
        path = dialogs.choose_open_file(self, "Load a model", start, "ONNX models (*.onnx)")
        if path:
            self.load_model(path)

    def load_model(self, path: str) -> None:
        """Open the model on a worker thread (a big model takes a moment)."""
        from allgui.core.infer import Classifier

        opener = functools.partial(Classifier, engine=self.engine_choice.engine())
        self.run_job("Loading the model", stateless(opener), path, text=f"Loading {Path(path).name}…",
                     on_success=self._model_loaded, on_failure=self._model_failed,
                     if_busy="Wait for the classification to end (or stop it) first.")

    def _model_loaded(self, classifier) -> None:
        self.classifier = classifier
        providers = ", ".join(p.replace("ExecutionProvider", "") for p in classifier.providers)
        note = f" ({classifier.device_note})" if classifier.device_note else ""
        name = _html(Path(classifier.info.path).name)
        synthetic = (" <span style='color:#b00020'><b>SYNTHETIC demo model</b>: its figures "
                     "say nothing about real cells</span>" if classifier.info.card.synthetic
                     else "")
        self.model_label.setText(f"<b>{name}</b> on {providers}{_html(note)}{synthetic}")
        self.window_.session.set_model(classifier)
        # the metadata is the file maker's text: shown escaped, never as markup or controls
        self.model_info.show_text("\n".join(map(terminal_text, classifier.info.summary_lines())))
        self.progress.set_running(False, "Model loaded.")
        self.log(f"Loaded model {classifier.info.path} ({providers})")

    def _engine_changed(self) -> None:
        self.settings.set_choice(ENGINE_KEY, self.engine_choice.engine())
        if self.classifier is not None and self.job is None:
            self.load_model(self.classifier.info.path)

    def _model_failed(self, exc: BaseException) -> None:
        self._pending = []
        self.progress.set_running(False, "The model could not be loaded.", done=False)
        self.show_error(exc, "Cannot load the model")

    # -- images ----------------------------------------------------------------------
    def choose_images(self) -> None:
        files = dialogs.choose_images(self, "Choose images to classify")
        if files:
            self.classify_paths(files)

    def choose_folder(self) -> None:
        folder = dialogs.choose_directory(self, "Choose a folder of images to classify")
        if folder:
            self.classify_paths([folder])

    def classify_paths(self, paths: list[str]) -> None:
        """Classify the images (and the images inside folders) at ``paths``.
        A dropped .onnx file is loaded as the model."""
        models = [p for p in paths if p.lower().endswith(".onnx")]
        if models:
            self._pending = [p for p in paths if p not in models]
            self.load_model(models[0])
            return
        if self.job_refused("classifying", exclusive=False,
                            if_busy="Classification is running; wait for it or stop it first."):
            return
        try:
            files = expand_paths(paths)
        except AllguiError as exc:
            self.show_error(exc, "Cannot classify")
            return
        if not files:
            self.show_error(
                AllguiError("No images found there.",
                            "Dropped: " + ", ".join(paths) + ". allgui reads BMP, PNG, JPEG, "
                            "TIFF, WebP and GIF files."),
                "Nothing to classify")
            return
        if self.classifier is None:
            self.show_error(
                AllguiError("Load a model first (Load model…): an .onnx file exported by "
                            "allgui, from the Validate tab's 'Export model' button."),
                "No model loaded")
            return
        self.run_job("Classifying", classify_in_window, self.classifier, files,
                     text=f"Classifying {count(len(files), 'image')}…", on_success=self._add_results,
                     on_failure=self._classify_failed)

    def _classify_failed(self, exc: BaseException) -> None:
        self.progress.set_running(False, "Classification failed.", done=False)
        if not isinstance(exc, Cancelled):
            self.show_error(exc, "Classification failed")

    def job_changed(self) -> None:
        self._update_buttons(running=self.job is not None)

    def job_ended(self) -> None:
        if self._pending and self.classifier is not None:
            pending, self._pending = self._pending, []
            self.classify_paths(pending)

    def _update_buttons(self, running: bool = False) -> None:
        self.save_button.setEnabled(bool(self.results) and not running)
        for w in (self.load_button, self.add_images_button, self.add_folder_button,
                  self.clear_button, self.engine_choice):
            w.setEnabled(not running)

    def _add_results(self, outcome: ClassifyOutcome) -> None:
        results = outcome.rows
        n_bad = sum(1 for r in results if r.prediction is None)
        summary = f"{count(len(results) - n_bad, 'image')} classified" + (
            f", {n_bad} could not be classified" if n_bad else "") + "."
        if outcome.stopped:
            summary = "Stopped. " + summary
        if self.results:  # "4 classified" beside 8 rows read as 4 lost
            summary += f" {count(len(self.results) + len(results), 'image')} in the table."
        self.progress.set_running(False, summary)
        self.table.setSortingEnabled(False)
        for result in results:
            self.results.append(result)
            row = self.table.rowCount()
            self.table.insertRow(row)
            classes = self.classifier.classes if self.classifier else ()
            for col, item in enumerate(result_cells(result, len(self.results) - 1, classes)):
                self.table.setItem(row, col, item)
        self.table.setSortingEnabled(True)
        fit_results(self.table)
        self.truth_label.setText(summary_html(
            self.results, self.classifier.classes if self.classifier else ()))
        self._update_buttons()
        if results and not self.table.selectedItems():
            self.table.selectRow(self.table.rowCount() - 1)
        if outcome.error is not None:
            message, details = plain_message(outcome.error)
            self.show_error(
                AllguiError(f"Classification ended early: {message} The {len(results)} results "
                            "finished before are kept in the table.", details),
                "Classification failed")

    def clear(self) -> None:
        self.results.clear()
        self.table.setRowCount(0)
        fit_results(self.table)
        self.truth_label.clear()
        self._shown = None
        self.image_label.clear()
        self.answer_label.clear()
        self._update_buttons()

    # -- saving -------------------------------------------------------------------------------
    def choose_csv(self) -> None:
        start = str((self.project.reports_dir if self.project else Path.home()) / "classified.csv")
        path = dialogs.choose_save_file(self, "Save the results", start, "CSV files (*.csv)")
        if path:
            self.save_csv(path)

    def save_csv(self, path: str) -> None:
        from allgui.core.infer.folder import results_csv_text

        classes = self.classifier.classes if self.classifier is not None else ()
        rows = self.results
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, results_csv_text(rows, classes))
        except OSError as exc:
            self.show_error(exc, "Cannot save the results")
            return
        self.log(f"Saved {count(len(rows), 'result')} to {path}")
