"""The Validate tab: train the chosen configuration N times, read the
metrics across runs, see ROC curves and confusion matrices, then export the
model and write the report."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from allgui.core.errors import AllguiError, Cancelled
from allgui.core.events import RunFinished
from allgui.core.files.text import count
from allgui.core.project import Project
from allgui.gui.tab import ProjectTab
from allgui.gui.validate.evaluate import evaluate_button
from allgui.gui.validate.figures import ConfusionView, roc_canvas
from allgui.gui.validate.mistakes import Selection
from allgui.gui.validate.work import (
    BatchView,
    export_chosen_run,
    load_folder,
    load_latest,
    read_resumable,
    run_and_analyse,
    write_reports,
)
from allgui.gui.widgets.elided import scrolled
from allgui.gui.widgets.progress import JobProgress
from allgui.gui.widgets.text import markup, plain_label, plain_tooltip, rich_label

NAME_WIDTH = 200  # pixels a figure's name gets at the least in the table
BASELINES = (("none", "No baseline"), ("default", "allgui's untuned defaults"),
             ("entered", "Entered below"))


class ValidateTab(ProjectTab):
    title = "&Validate"

    def __init__(self, window) -> None:
        super().__init__(window)
        self.view: BatchView | None = None
        self.exported: Path | None = None
        self.evaluation = None  # the "Evaluate on other data" window, once opened
        self.resumable = None  # the project's batch that did not end and misses a run
        self._running_batch = 0  # counts batches started: a late read of an old one is dropped
        self._stoppable = True  # the running job heeds Stop (an export runs to its end)
        outer = QVBoxLayout(self)
        # Two columns: the form, the header, the table and the note on the left;
        # the figures on the right, the whole height of the tab, so that a
        # confusion matrix of several classes can be read on a 1280x800 screen.
        splitter = QSplitter(Qt.Horizontal)
        left = QWidget()
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self._build_form())
        # Long words (the batch, its test set, the run to export; the notes on the
        # figures) scroll in place: the table and the figures keep their room.
        self.summary = rich_label("Run a batch after the search: the best trial by default.")
        top.addWidget(scrolled(self.summary), 1)
        left_column.addLayout(top)

        # the note under the table, in a pane its splitter lets grow
        table_box = QSplitter(Qt.Vertical)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        rows = self.table.verticalHeader().defaultSectionSize()
        self.table.setMinimumHeight(self.table.horizontalHeader().sizeHint().height() + 3 * rows + 6)
        table_box.addWidget(self.table)
        self.note = plain_label("")
        table_box.addWidget(scrolled(self.note))
        table_box.setChildrenCollapsible(False)
        table_box.setStretchFactor(0, 3)
        table_box.setStretchFactor(1, 2)
        self.note_splitter = table_box
        left_column.addWidget(table_box, 1)
        splitter.addWidget(left)
        self.figures = QTabWidget()
        self._roc_holder = self._figure_page("ROC curves")
        self._cm_holder = self._figure_page("Confusion matrices")
        self.confusion = ConfusionView()
        self.confusion.keep = True  # reused batch after batch: never deleted on a change
        self.confusion.cell_clicked.connect(
            lambda run, true, pred: self.open_gallery(run, Selection("cell", true, pred)))
        self.confusion.kind_requested.connect(
            lambda run, kind: self.open_gallery(run, Selection(kind)))
        self.gallery = None
        splitter.addWidget(self.figures)
        # room for the confusion view, which comes in with the first batch
        self.figures.setMinimumSize(320, self.confusion.minimumSizeHint().height()
                                    + self.figures.tabBar().sizeHint().height() + 8)
        splitter.setChildrenCollapsible(False)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        outer.addWidget(splitter, 1)

        bottom = QHBoxLayout()
        self.export_button = QPushButton("Export model (ONNX)")
        self.export_button.setToolTip("Export the run with the lowest validation loss at its "
                                      "kept epoch (chosen without the test set) into the "
                                      "project's models/ folder; the Classify tab then uses it")
        self.export_button.clicked.connect(self.export_model)
        self.report_button = QPushButton("Write report (HTML + PDF)")
        self.report_button.clicked.connect(self.write_report)
        self.evaluate_button = evaluate_button(self)
        bottom.addWidget(self.export_button)
        bottom.addWidget(self.report_button)
        bottom.addWidget(self.evaluate_button)
        self.progress = JobProgress()
        self.progress.stop_requested.connect(self.stop)
        bottom.addWidget(self.progress, 1)
        outer.addLayout(bottom)
        self.job_changed()

    def _figure_page(self, title: str) -> QVBoxLayout:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self._set_figure(layout, None)
        self.figures.addTab(page, title)
        return layout

    @staticmethod
    def _set_figure(holder: QVBoxLayout, widget: QWidget | None) -> None:
        """Put ``widget`` (None: the placeholder) in ``holder``, instead of what was there."""
        while holder.count():
            old = holder.takeAt(0).widget()
            if old is not None and old is not widget:
                if getattr(old, "keep", False):  # the confusion view lives as long as the tab
                    old.hide()
                    old.setParent(None)
                else:
                    old.deleteLater()
        if widget is None:
            widget = plain_label("Appears once a run has finished.")
            widget.setAlignment(Qt.AlignCenter)
        holder.addWidget(widget)

    def _build_form(self) -> QWidget:
        box = QGroupBox("Validation batch")
        form = QFormLayout(box)
        self.configuration = QComboBox()
        self.configuration.setEditable(False)
        self.configuration.addItem("Best trial of the study", None)
        self.params = QLineEdit()
        self.params.setPlaceholderText("or enter one: lr=0.001, hidden=512, …")
        self.baseline = QComboBox()
        for key, words in BASELINES:
            self.baseline.addItem(words, key)
        self.baseline_params = QLineEdit()
        self.baseline_params.setPlaceholderText("baseline: lr=0.001, hidden=512, …")
        self.baseline.currentIndexChanged.connect(self.save_choices)
        self.baseline_params.editingFinished.connect(self.save_choices)
        self.runs = QSpinBox()
        self.runs.setRange(1, 50)
        self.runs.setValue(int(self.settings.choice("validate/runs", 3)))
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(int(self.settings.choice("validate/epochs", 40)))
        form.addRow("Configuration", self.configuration)
        form.addRow("", self.params)
        form.addRow("Baseline", self.baseline)
        form.addRow("", self.baseline_params)
        self._form = form
        self.baseline.currentIndexChanged.connect(self._show_baseline_params)
        self._show_baseline_params()
        counts = QHBoxLayout()
        counts.addWidget(self.runs, 1)
        counts.addWidget(QLabel("Epochs (max)"))
        counts.addWidget(self.epochs, 1)
        form.addRow("Runs", counts)
        for w in (self.runs, self.epochs):
            w.valueChanged.connect(self._show_resume)
        self.configuration.currentIndexChanged.connect(self._show_resume)
        self.baseline.currentIndexChanged.connect(self._show_resume)
        self.params.textChanged.connect(self._show_resume)
        row = QHBoxLayout()
        self.run_button = QPushButton("Run validation")
        self.run_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        row.addWidget(self.run_button)
        row.addWidget(self.stop_button)
        form.addRow(row)
        return box

    def _show_baseline_params(self) -> None:
        # the baseline's own settings only for a baseline entered by hand
        self._form.setRowVisible(self.baseline_params, self.baseline.currentData() == "entered")

    def save_choices(self) -> None:
        self.settings.set_choice("validate/runs", self.runs.value())
        self.settings.set_choice("validate/epochs", self.epochs.value())
        if self.project is not None:  # the baseline is the project's choice
            key = f"validate/baseline/{self.project.root}"
            self.settings.set_choice(key, self.baseline.currentData())
            self.settings.set_choice(key + "/params", self.baseline_params.text())

    def _restore_baseline(self, project: Project | None) -> None:
        key = f"validate/baseline/{project.root}" if project is not None else ""
        # Not chosen here yet: the project's protocol says (allgui's defaults, or none).
        wanted = str(project.settings.validation.get("baseline", "none")) if project else "none"
        kind = self.settings.choice(key, wanted) if key else "none"
        for w, set_value in ((self.baseline, lambda: self.baseline.setCurrentIndex(
                max(0, self.baseline.findData(kind)))), (self.baseline_params, lambda: (
                self.baseline_params.setText(str(self.settings.choice(key + "/params", "") or "")
                                             if key else "")))):
            was = w.blockSignals(True)  # restoring is not an edit to save
            set_value()
            w.blockSignals(was)

    # -- project and study ---------------------------------------------------------------
    def project_changed(self, project: Project | None) -> None:
        self._clear_batch("Run a batch after the search: the best trial by default.")
        self.progress.set_running(False, "")
        self.search_finished(None)
        self._restore_baseline(project)
        self._set_resumable(None)
        if project is not None:
            self.start_job("Reading validation runs", load_latest, project,
                           on_success=lambda v: v is not None and project is self.project
                           and self._show(v),
                           on_failure=lambda exc: self.log(
                               f"No validation batch shown: {getattr(exc, 'message', exc)}"))
            self._read_resumable()
        self.job_changed()

    def _clear_batch(self, words: str) -> None:
        """Nothing of the last batch (or project) stays in view."""
        self.view = None
        self.exported = None
        self.table.clear()
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.note.clear()
        self.summary.setText(words)
        self._set_figure(self._roc_holder, None)
        self._set_figure(self._cm_holder, None)

    # -- continuing a batch that did not end ---------------------------------------------------
    def _read_resumable(self) -> None:
        project = self.project
        if project is not None:
            self.start_job("Reading validation runs", read_resumable, project,
                           on_success=lambda b: project is self.project and self._set_resumable(b),
                           on_failure=lambda exc: None)  # nothing to continue, as without one

    def _set_resumable(self, batch) -> None:
        self.resumable = batch
        self._show_resume()

    def _continues(self, batch) -> bool:
        """Whether the form asks for what ``batch`` was started with (the engine
        decides in the end, on every setting, as ``allgui validate`` does)."""
        trial = self.configuration.currentData()
        return (self.runs.value() == len(batch.seeds) and self.epochs.value() == batch.max_epochs
                and (self.baseline.currentData() != "none") == (batch.baseline is not None)
                and (not self.params.text().strip()) == (batch.tuned.trial is not None)
                and (trial is None or trial == batch.tuned.trial))

    def _show_resume(self) -> None:
        """"Resume validation (k of n done)" when pressing the button continues
        the stopped batch; else what it would take to continue it."""
        from allgui.core.validation.resume import expected_runs

        b = self.resumable
        if b is None:
            self.run_button.setText("Run validation")
            self.run_button.setToolTip("Train and test the chosen configuration; a batch that "
                                       "stops can be continued later")
            return
        done, total = sum(r.finished for r in b.runs), expected_runs(b)
        if self._continues(b):
            self.run_button.setText(f"Resume validation ({done} of {total} done)")
            self.run_button.setToolTip(
                f"Continue batch {b.batch_id} ({b.state}): its {count(done, 'finished run')} "
                "are kept and only the others run")
        else:
            self.run_button.setText("Run validation (new batch)")
            self.run_button.setToolTip(
                f"Batch {b.batch_id} ({b.state}, {done} of {total} runs done) continues with its "
                f"own settings: {count(len(b.seeds), 'run')} of up to "
                f"{count(b.max_epochs, 'epoch')}"
                + (", with a baseline" if b.baseline else ", no baseline")
                + ". These settings start a new batch.")

    def search_finished(self, result) -> None:
        """Offer every complete trial of the study, best first (None: none yet)."""
        self.configuration.clear()
        study = self.window_.session.study
        self.configuration.addItem(f"Best trial of the study '{study}'" if study
                                   else "Best trial of the study", None)
        for t in (result.top(20) if result is not None else ()):
            self.configuration.addItem(f"Trial {t.number} ({t.value:.4f})", t.number)

    def validation_settings(self):
        from allgui.core.validation.defaults import ValidationDefaults
        from allgui.core.validation.run import DEFAULT_BASELINE, parse_params

        params = parse_params(self.params.text()) if self.params.text().strip() else None
        baseline, source = None, "entered by the user"
        kind = self.baseline.currentData()
        if kind == "default":
            baseline, source = dict(DEFAULT_BASELINE), "allgui's untuned defaults"
        elif kind == "entered":
            baseline = parse_params(self.baseline_params.text())
            if not baseline:
                raise AllguiError("Enter the baseline's settings (for example lr=0.001, "
                                  "hidden=512), or choose another baseline.")
        # What the form does not show (patience, views, the probe) is the project's
        # [validation] setting, as its protocol set it.
        defaults = (ValidationDefaults.from_project(self.project) if self.project is not None
                    else ValidationDefaults())
        return defaults.settings(
            runs=self.runs.value(), epochs=self.epochs.value(),
            trial=self.configuration.currentData(), params=params,
            baseline=baseline, baseline_source=source,
        )

    # -- running ----------------------------------------------------------------------------
    def job_changed(self) -> None:
        running = self.job is not None
        self.run_button.setEnabled(self.project is not None and not running)
        can_stop = running and self._stoppable and not self.job.stopping
        self.stop_button.setEnabled(can_stop)
        if running and not can_stop:  # an export: its Stop would not stop it
            self.progress.stop_button.setEnabled(False)
        has_batch = self.view is not None
        self.export_button.setEnabled(has_batch and not running)
        self.report_button.setEnabled(has_batch and not running)

    def start(self) -> None:
        if self.project is None or self.job is not None or self.window_.session.refuse_unapplied(
                self.show_error, "running a validation"):
            return
        try:
            settings = self.validation_settings()
        except AllguiError as exc:
            self.show_error(exc, "The validation cannot start")
            return
        self.save_choices()
        resuming = self.resumable is not None and self._continues(self.resumable)
        self._running_batch += 1
        # The last batch leaves the view: this one's runs come in as each finishes.
        self._clear_batch("Continuing the stopped batch: its finished runs show first, the "
                          "others as each finishes." if resuming else
                          "A new batch is running: each run shows here as it finishes.")
        self._run("Validation", run_and_analyse, self.project, settings,
                  text="Preparing the data…", on_success=self._show)

    def stop(self) -> None:
        if self._stoppable:  # Esc during an export: it cannot stop midway
            super().stop()

    def _run(self, name: str, fn, *args, text: str, on_success, stoppable: bool = True) -> None:
        self._stoppable = stoppable
        self.run_job(name, fn, *args, text=text, on_event=self.on_event, on_success=on_success,
                     on_failure=self._failed, exclusive=True)

    def on_event(self, event) -> None:
        if isinstance(event, RunFinished):
            f1 = event.metrics.get("f1_weighted")
            self.log(f"Validation run {event.run} ({event.label}, seed {event.seed}) finished"
                     + (f": weighted F1 {f1:.4f}" if isinstance(f1, float) else ""))
            if event.folder:
                self._show_finished_runs(event.folder)

    def _show_finished_runs(self, folder: str) -> None:
        """The running batch as it stands, in the table and figures, read off the GUI thread."""
        token = self._running_batch
        self.start_job("Reading validation runs", load_folder, folder,
                       on_success=lambda v: self._show_live(v, token),
                       on_failure=lambda exc: None)  # the next run, or the end, shows it

    def _show_live(self, view: BatchView | None, token: int) -> None:
        # only while that batch still runs: its end shows the final figures
        if view is not None and token == self._running_batch and self.job is not None:
            self._show(view, live=True)

    def _failed(self, exc: BaseException) -> None:
        self.progress.set_running(False, "Stopped." if isinstance(exc, Cancelled)
                                  else "Did not finish.", done=False)
        if not isinstance(exc, Cancelled):
            self.show_error(exc, "Validation")

    def job_ended(self) -> None:
        self._running_batch += 1  # a read still on its way shows nothing now
        if self.view is None and self.project is not None:  # ended without a result: the last
            project = self.project
            self.start_job("Reading validation runs", load_latest, project,
                           on_success=lambda v: v is not None and project is self.project
                           and self.view is None and self._show(v),
                           on_failure=lambda exc: None)
        self._read_resumable()

    # -- results ------------------------------------------------------------------------------
    def _show(self, view: BatchView | None, live: bool = False) -> None:
        """``view`` in the table, figures and header; ``live``: its batch still runs."""
        if view is None:
            self.progress.set_running(False, "No finished run.", done=False)
            return
        self.view = view
        if not live:  # a running batch is nobody's to export or classify with yet
            self.window_.session.set_batch(view)
        b = view.batch
        chosen = b.chosen_run()
        synthetic = ("<br><b style='color:#b00020'>SYNTHETIC demo data: these figures say "
                     "nothing about real cells.</b>" if b.dataset.synthetic else "")
        if not live:
            self.progress.set_running(False, f"Batch {b.batch_id}: {b.state}.",
                                      done=b.state == "finished")
        # a trial is named with its study: the project may hold several
        study = (f" of the study <b>{markup(b.study.name)}</b>"
                 if b.tuned.trial is not None and b.study.name else "")
        self.summary.setText(
            f"<b>Batch {markup(b.batch_id)}</b> ({b.state}): {markup(b.tuned.source)}{study}, "
            f"{count(len(b.runs_of('tuned')), 'finished run')} of up to "
            f"{count(b.max_epochs, 'epoch')}.<br>"
            f"Figures from the test set: <b>{markup(b.test_set)}</b>."
            + (f"<br>Model to export: {markup(b.selection_note(chosen))}." if chosen else "")
            + (f"<br>{markup(b.message)}" if b.message else "") + synthetic)
        header, rows = view.header, view.rows
        self.table.clear()
        self.table.setColumnCount(len(header))
        self.table.setRowCount(len(rows))
        # "Run 1" over "(seed 0)": the runs' columns as narrow as their numbers
        self.table.setHorizontalHeaderLabels([h.replace(" (seed", "\n(seed") for h in header])
        for r, cells in enumerate(rows):
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c > 0:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                else:
                    item.setToolTip(plain_tooltip(text))  # the whole name, when shortened
                self.table.setItem(r, c, item)
        self._fit_names()
        cmp_header, cmp_rows = view.comparison
        note = view.note
        if cmp_rows:
            best = "; ".join(f"{row[0]}: difference {row[3]} (p = {row[7]})"
                             for row in cmp_rows[:3])
            note += f"\nTuned against baseline (paired t over the same seeds): {best}."
        from allgui.gui.validate.calibration import evidence_text

        note += "\n" + evidence_text(b)
        self.note.setText(note)
        self._draw_figures(view)
        self.job_changed()

    def _fit_names(self) -> None:
        """The figures' names at most a third of the table wide (shortened with
        "…", whole on hover), so that the numbers beside them are in view."""
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        widest = max(NAME_WIDTH, self.table.viewport().width() // 3)
        if header.sectionSize(0) > widest:
            header.setSectionResizeMode(0, QHeaderView.Interactive)
            header.resizeSection(0, widest)

    def _draw_figures(self, view: BatchView) -> None:
        from allgui.core.validation.batch import BASELINE, TUNED

        b = view.batch
        widgets = []
        if view.roc:
            widgets.append((self._roc_holder, roc_canvas(view.roc, b.positive_class, b.test_set)))
        runs = [r for r in b.runs_of(TUNED) + b.runs_of(BASELINE) if r.metrics]
        if runs:
            self.confusion.set_runs(runs, b.classes, b.test_set)
            widgets.append((self._cm_holder, self.confusion))
        for holder, widget in widgets:
            self._set_figure(holder, widget)
            widget.show()

    # -- the mistakes gallery ---------------------------------------------------------------
    def open_gallery(self, run, selection: Selection) -> None:
        """The test images of ``run`` that ``selection`` names, read on a job's thread."""
        from allgui.gui.validate.open_gallery import start_gallery

        if self.view is not None and self.project is not None:
            start_gallery(self, self.view.batch, run, selection)

    # -- export and report ------------------------------------------------------------------------
    def export_model(self) -> None:
        if self.view is None or self.job is not None:
            return
        self._run("Export", export_chosen_run, self.project, self.view.batch,
                  text="Exporting the model…", on_success=self._exported, stoppable=False)

    def _exported(self, result) -> None:
        self.exported = Path(result.path)
        self.progress.set_running(False, f"Model exported: {self.exported.name}")
        self.log(f"Exported {result.path} (checked on {result.images_checked} images against "
                 f"torch; max probability difference {result.max_diff_probabilities:.2g})"
                 + (f"; {result.info.selection}" if result.info.selection else ""))
        self.window_.model_exported(self.exported)

    def write_report(self) -> None:
        if self.view is None or self.job is not None or self.window_.session.refuse_unapplied(
                self.show_error, "writing the report"):
            return
        self._run("Report", write_reports, self.project, self.view.batch,
                  text="Writing the report…", on_success=self._report_written)

    def _report_written(self, files) -> None:
        # the job's own ending already logged "Report written: <files>"
        names = [p.name for p in (getattr(files, "html", None), getattr(files, "pdf", None)) if p]
        self.progress.set_running(False, "Report written" + (f": {', '.join(names)}."
                                                             if names else "."))
