"""The Validate tab: train the chosen configuration N times, read the
metrics across runs, see ROC curves and confusion matrices, then export the
model and write the report."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from allgui.core.errors import AllguiError, Cancelled
from allgui.core.events import EpochEnded, Progress, RunFinished
from allgui.core.files.text import count
from allgui.core.model.measures import run_line
from allgui.core.project import Project
from allgui.gui.tab import ProjectTab
from allgui.gui.validate.evaluate import evaluate_button
from allgui.gui.validate.figure_pages import figure_page, set_figure
from allgui.gui.validate.figures import ConfusionView, roc_canvas
from allgui.gui.validate.form import ValidationForm
from allgui.gui.validate.mistakes import Selection
from allgui.gui.validate.resume import ResumeOffer
from allgui.gui.validate.run_table import fill_table, run_table
from allgui.gui.validate.work import (
    BatchView,
    export_chosen_run,
    load_folder,
    load_latest,
    run_and_analyse,
    write_reports,
)
from allgui.gui.widgets.elided import scrolled
from allgui.gui.widgets.progress import JobProgress
from allgui.gui.widgets.text import markup, plain_label, rich_label


class ValidateTab(ValidationForm, ResumeOffer, ProjectTab):
    title = "&Validate"

    def __init__(self, window) -> None:
        super().__init__(window)
        self.view: BatchView | None = None
        self.exported: Path | None = None
        self.evaluation = None  # the "Evaluate on other data" window, once opened
        self.resumable = None  # the project's batch that did not end and misses a run
        self._running_batch = 0  # counts batches started: a late read of an old one is dropped
        self._stoppable = True  # the running job heeds Stop (an export runs to its end)
        self._run_words, self._runs = "", (0, 0)  # the run under way; runs done of all
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
        self.table = run_table()
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
        self._roc_holder = figure_page(self.figures, "ROC curves")
        self._cm_holder = figure_page(self.figures, "Confusion matrices")
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
        set_figure(self._roc_holder, None)
        set_figure(self._cm_holder, None)

    def search_finished(self, result) -> None:
        """Offer every complete trial of the study, best first (None: none yet)."""
        self.configuration.clear()
        study = self.window_.session.study
        self.configuration.addItem(f"Best trial of the study '{study}'" if study
                                   else "Best trial of the study", None)
        for t in (result.top(20) if result is not None else ()):
            self.configuration.addItem(f"Trial {t.number} ({t.value:.4f})", t.number)

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
        self._follow_phase(event)
        if isinstance(event, RunFinished):
            self.log(f"Validation run {event.run} ({event.label}, seed {event.seed}) finished: "
                     f"{run_line(event.metrics)} on the test set")
            if event.folder:
                self._show_finished_runs(event.folder)

    def _follow_phase(self, event) -> None:
        """The progress line through a run's phases: its features (the engine's
        Progress), then its epochs, then the runs finished, words and bar from
        one event each, so the words never stay on a phase that has ended."""
        if isinstance(event, Progress) and event.phase == "runs":
            self._run_words, self._runs = event.message, (event.done, event.total or 0)
        elif isinstance(event, EpochEnded) and event.run is not None and event.epochs:
            run = self._run_words or f"Run {event.run}"
            self.progress.show(f"{run}: epoch {event.epoch} of {event.epochs}",
                               f"run {event.run} epochs", event.epoch, event.epochs)
        elif isinstance(event, RunFinished):
            done, total = self._runs
            self._runs = (done + 1, total)
            self.progress.show(f"{done + 1} of {count(total, 'run')} finished" if total
                               else f"Run {event.run} finished", "runs", done + 1, total)

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
        fill_table(self.table, view.header, view.rows)
        cmp_header, cmp_rows = view.comparison
        note = view.note
        if cmp_rows:
            best = "; ".join(f"{row[0]}: difference {row[3]} {row[4]} (p {row[5]})"
                             if row[5].startswith("<") else
                             f"{row[0]}: difference {row[3]} {row[4]} (p = {row[5]})"
                             for row in cmp_rows[:3])
            note += ("\nTuned against baseline on the same test images (paired bootstrap): "
                     f"{best}.")
        from allgui.gui.validate.calibration import evidence_text

        note += "\n" + evidence_text(b)
        self.note.setText(note)
        self._draw_figures(view)
        self.job_changed()

    def _draw_figures(self, view: BatchView) -> None:
        from allgui.core.validation.batch import BASELINE, TUNED

        b = view.batch
        widgets = []
        if view.roc:
            widgets.append((self._roc_holder, roc_canvas(view.roc, b.positive_class, b.test_set,
                                                          b.classes)))
        runs = [r for r in b.runs_of(TUNED) + b.runs_of(BASELINE) if r.metrics]
        if runs:
            self.confusion.set_runs(runs, b.classes, b.test_set)
            widgets.append((self._cm_holder, self.confusion))
        for holder, widget in widgets:
            set_figure(holder, widget)
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
