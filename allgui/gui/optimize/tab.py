"""The Optimize tab: settings and search space, Start / Stop / Resume, and
the study live: history, learning curves, trials, importances."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from allgui.core.errors import AllguiError, Cancelled
from allgui.core.events import (
    Event,
    JobStarted,
    StudyFinished,
    TrialFailed,
    TrialFinished,
    TrialPruned,
    TrialStarted,
)
from allgui.core.project import Project
from allgui.gui.optimize.follow import StudyFollower, ask_storage, describe_workers
from allgui.gui.optimize.form import ActionBar, SearchForm
from allgui.gui.optimize.plots import OptimizePlots
from allgui.gui.optimize.trials_model import TrialBook
from allgui.gui.optimize.trials_table import TrialsTable
from allgui.gui.optimize.work import compute_importances, read_study, search
from allgui.gui.tab import ProjectTab
from allgui.gui.widgets.progress import JobProgress, format_duration

IMPORTANCE_EVERY = 2  # recompute importances after this many more complete trials
# The form's widgets, read by the tab (and by tests) as its own.
FORM_FIELDS = ("study_name", "trials", "epochs", "mode", "views", "startup_trials", "objective",
               "pruning", "seed", "device", "storage_label", "storage_button", "backbone",
               "weights", "weights_file", "space_editor")


class OptimizeTab(ProjectTab):
    title = "&Optimize"

    def __init__(self, window) -> None:
        super().__init__(window)
        self.book = TrialBook()
        self.importance_job = None
        self._importance_at = 0
        self.total_trials = 0
        self.study_started = 0.0
        self.result = None
        outer = QHBoxLayout(self)
        splitter = QSplitter(Qt.Horizontal)
        outer.addWidget(splitter)
        splitter.addWidget(self._build_settings())
        right = QWidget()
        rlayout = QVBoxLayout(right)
        rlayout.setContentsMargins(0, 0, 0, 0)
        inner = QSplitter(Qt.Vertical)
        self.plots = OptimizePlots(self.book)
        self.plots.importance.shown.connect(self._importance_shown)
        inner.addWidget(self.plots)
        self.trials_table = TrialsTable()
        self.trials_table.itemSelectionChanged.connect(self._trial_selected)
        self.plots.trial_selected.connect(self.trials_table.select_trial)
        inner.addWidget(self.trials_table.pane())
        inner.setChildrenCollapsible(False)
        inner.setStretchFactor(0, 3)
        inner.setStretchFactor(1, 2)
        rlayout.addWidget(inner, 1)
        self.study_label = QLabel("")
        rlayout.addWidget(self.study_label)
        self.workers_label = QLabel("")  # a study shared with workers: who runs what
        self.workers_label.setVisible(False)
        rlayout.addWidget(self.workers_label)
        self.follower = StudyFollower(self.job_manager, self)
        self.follower.updated.connect(self._followed)
        self.follower.failed.connect(lambda text: self.log(f"Following the study: {text}"))
        self.progress = JobProgress()
        self.progress.stop_requested.connect(self.stop)
        rlayout.addWidget(self.progress)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 5)
        QShortcut(QKeySequence("Ctrl+R"), self, self.start)
        QShortcut(QKeySequence("Esc"), self, self.stop)
        self.form.restore_choices(self.settings)
        self.project_changed(None)

    # -- the settings column -------------------------------------------------------
    def _build_settings(self) -> QWidget:
        column = QWidget()
        layout = QVBoxLayout(column)
        layout.setContentsMargins(0, 0, 0, 0)
        self.form = SearchForm()
        for name in FORM_FIELDS:
            setattr(self, name, getattr(self.form, name))
        for spin in (self.trials, self.epochs):  # the plots' axes follow the form
            spin.valueChanged.connect(self._prepare_plots)
        self.storage_button.clicked.connect(self._change_storage)
        self.space_editor.changed.connect(self._space_checked)
        self.actions = ActionBar()
        self.start_button, self.stop_button = self.actions.start_button, self.actions.stop_button
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        layout.addWidget(self.form, 1)
        layout.addWidget(self.actions)
        return column

    def _space_checked(self, ok: bool) -> None:
        self._update_buttons()

    def save_choices(self) -> None:
        self.form.save_choices(self.settings)

    def search_settings(self):
        """The form as SearchSettings; raises AllguiError in plain words."""
        return self.form.search_settings()

    def model_settings(self):
        return self.form.model_settings(self.project.settings.model)

    def _prepare_plots(self) -> None:
        # Set now, while the user edits the form, so that pressing Start finds the
        # axes already drawn as the search needs them.
        if self.job is None:
            self.plots.prepare(self.trials.value(), self.epochs.value(), now=False)

    # -- project ---------------------------------------------------------------------
    def project_changed(self, project: Project | None) -> None:
        self.book.clear()
        self.trials_table.setRowCount(0)
        self.plots.reset()
        self._prepare_plots()
        self.result = None
        self.study_label.setText("" if project else "Open a project to search.")
        self.workers_label.setVisible(False)
        self._show_storage()
        if project is not None:
            self.form.fill(project, self.log)
            self.load_study()
        self.follower.follow(project, self.study_name.text().strip())
        self._update_buttons()

    # -- a study shared with workers -------------------------------------------------
    def _show_storage(self) -> None:
        from allgui.core.search.storage import mask_url

        project = self.project
        self.storage_label.setText(
            "" if project is None else mask_url(project.settings.storage)
            or "this project's study.db")
        self.storage_button.setEnabled(project is not None and self.job is None)

    def _change_storage(self) -> None:
        if self.project is None or self.job is not None:
            return
        try:
            url = ask_storage(self, self.project)
        except AllguiError as exc:
            self.show_error(exc, "The study storage cannot be used")
            return
        if url is None:
            return
        self.project.update(storage=url)
        self.project_changed(self.project)
        self.log(f"Study storage: {self.storage_label.text()}")

    def _followed(self, snap) -> None:
        """Every worker's trials as the shared study holds them."""
        if self.project is None:
            return
        changed = False
        for t in snap.result.trials:
            if self.job is not None and t.number == self.book.running and t.state == "running":
                continue  # this window's own trial: its events are finer
            rec = self.book.record(t.number)
            new = (t.state, t.value, dict(t.params), t.duration_s, t.reason, t.worker)
            if new != (rec.state, rec.value, rec.params, rec.duration_s, rec.reason, rec.worker):
                rec.state, rec.value, rec.params, rec.duration_s, rec.reason, rec.worker = new
                self._show_trial(t.number)
                changed = True
            if not rec.curve and t.number in snap.curves:  # another worker's learning curve
                rec.curve = list(snap.curves[t.number])
                changed = True
        if changed:
            self.plots.curves.request_redraw()
            self.plots.history.request_redraw()
            self.plots.parallel.request_redraw()
            self._maybe_importances()
        r = snap.result
        running = sum(t.state == "running" for t in r.trials)
        if self.job is None:
            self.study_label.setText(
                f"Study '{r.study_name}' (shared, budget {snap.budget}): {r.n_complete} complete, "
                f"{r.n_pruned} pruned, {r.n_failed} failed, {running} running"
                + (f"; best {r.best.value:.4f} (trial {r.best.number})" if r.best else ""))
        self.workers_label.setText(describe_workers(snap))
        self.workers_label.setVisible(True)

    def load_study(self) -> None:
        """Show the project's study as it stands (to follow or resume it)."""
        project = self.project
        if project is None or project.sqlite_path is not None and not project.sqlite_path.exists():
            return
        from allgui.core.search.settings import SearchSettings

        try:
            settings = self.search_settings()
        except AllguiError:
            settings = SearchSettings()
        self.start_job(
            "Reading the study", read_study, project, settings,
            on_success=self._study_loaded,
            on_failure=lambda exc: self.log(f"No study shown: {getattr(exc, 'message', exc)}"),
        )

    def _study_loaded(self, result) -> None:
        self.result = result
        self.book.clear()
        for t in result.trials:
            rec = self.book.record(t.number)
            rec.state, rec.value, rec.params = t.state, t.value, dict(t.params)
            rec.duration_s, rec.reason = t.duration_s, t.reason
            rec.worker = t.worker
            self._show_trial(t.number)
        self.plots.set_objective(result.objective)
        self.plots.refresh()
        done = result.n_complete + result.n_pruned + result.n_failed
        self.study_label.setText(
            f"Study '{result.study_name}': {result.n_complete} complete, {result.n_pruned} pruned, "
            f"{result.n_failed} failed" + (f"; best {result.best.value:.4f} (trial "
                                           f"{result.best.number})" if result.best else ""))
        if 0 < done < self.trials.value():
            self.start_button.setText(f"Resume search ({done} of {self.trials.value()} done)")
        self._maybe_importances(force=True)
        self.window_.search_finished(result)  # the Validate tab offers its trials

    # -- running --------------------------------------------------------------------------
    def _update_buttons(self) -> None:
        running = self.job is not None
        ok = self.project is not None and self.space_editor.is_valid() and not running
        self.start_button.setEnabled(ok)
        self.stop_button.setEnabled(running and not self.job.stopping)
        self.storage_button.setEnabled(self.project is not None and not running)

    def job_changed(self) -> None:
        self._update_buttons()

    def start(self) -> None:
        if self.job_refused("starting the search"):
            return
        if self.project is None:
            self.show_error("Open or make a project first (File menu), or try the demo data.")
            return
        if not self.project.settings.dataset.path:
            self.show_error("Choose the project's dataset first (Dataset tab).")
            return
        try:
            settings = self.search_settings()
            model = self.model_settings()
        except AllguiError as exc:
            self.show_error(exc, "The search cannot start")
            return
        project = self.project
        self.save_choices()
        self.total_trials = settings.trials
        self.plots.set_objective(settings.objective)
        self.plots.prepare(settings.trials, settings.epochs)
        self.study_started = time.monotonic()
        self.run_job("Search", search, project, settings, model,
                     text="Preparing the data…", on_event=self.on_event,
                     on_success=self._finished, on_failure=self._failed, exclusive=True,
                     what="starting the search")
        self.follower.follow(project, settings.study_name)  # other workers' trials too

    def on_event(self, event: Event) -> None:
        number = self.book.apply(event)
        if isinstance(event, JobStarted) and event.total is not None:
            self._remaining = event.total
            self._trials_done = 0
        if isinstance(event, (TrialFinished, TrialPruned, TrialFailed)):
            self._trials_done = getattr(self, "_trials_done", 0) + 1
            self._show_study_progress()
            self.plots.history.request_redraw()
            self.plots.parallel.request_redraw()
            self._maybe_importances()
        if isinstance(event, TrialStarted):
            self.progress.label.setText(f"Trial {event.number}")
            self.plots.curve_trial = None
        if isinstance(event, StudyFinished):
            self.plots.refresh()
        if number is not None:
            self._show_trial(number)
            self.plots.curves.request_redraw()

    def _show_study_progress(self) -> None:
        done = getattr(self, "_trials_done", 0)
        total = getattr(self, "_remaining", 0)
        if not total:
            return
        elapsed = time.monotonic() - self.study_started
        left = elapsed / done * (total - done) if done else 0
        self.progress.bar.setRange(0, total)
        self.progress.bar.setValue(done)
        self.progress.eta.setText(f"study: about {format_duration(left)} left" if done < total
                                  else "")

    def _finished(self, result) -> None:
        self.result = result
        state = "stopped" if result.stopped else "finished"
        best = (f"; best {result.best.value:.4f} (trial {result.best.number})"
                if result.best else "")
        self.progress.set_running(False, f"Search {state}{best}.")
        self.study_label.setText(
            f"Study '{result.study_name}': {result.n_complete} complete, {result.n_pruned} "
            f"pruned, {result.n_failed} failed{best}; {format_duration(result.duration_s)}"
            + (f"; pruning saved {result.epochs_saved_by_pruning} epochs"
               if result.epochs_saved_by_pruning else ""))
        done = result.n_complete + result.n_pruned + result.n_failed
        self.start_button.setText(
            f"Resume search ({done} of {result.settings.trials} done)"
            if done < result.settings.trials else "Start search")
        self.log(f"Search {state}: {result.n_complete} complete trials{best}")
        self._maybe_importances(force=True)
        self.window_.search_finished(result)

    def _failed(self, exc: BaseException) -> None:
        self.progress.set_running(False, "The search did not run." if not isinstance(
            exc, Cancelled) else "Stopped.")
        if not isinstance(exc, Cancelled):
            self.show_error(exc, "The search stopped")

    # -- trials table --------------------------------------------------------------------
    def _show_trial(self, number: int) -> None:
        self.trials_table.show_trial(self.book.trials[number])

    def _trial_selected(self) -> None:
        number = self.trials_table.selected_trial()
        if number is not None:
            self.plots.curve_trial = number
            self.plots.curves.request_redraw()

    # -- importances ----------------------------------------------------------------------
    def _maybe_importances(self, force: bool = False) -> None:
        n = len(self.book.complete())
        if self.project is None or n < 3 or self.importance_job is not None:
            return
        if not force and (n < self._importance_at + IMPORTANCE_EVERY
                          or not self.plots.importance.isVisible()):
            # Mid-search only for eyes that look: the computation reads the whole
            # study and competes with the search and the window for the processor.
            return
        self._importance_at = n
        self.importance_job = self.start_job(
            "Importances",
            compute_importances, self.project, self.study_name.text().strip(),
            on_success=self._show_importances,
            on_failure=self._importance_failed,
            on_done=self._importance_done,
        )

    def _importance_shown(self) -> None:
        if len(self.book.complete()) != self._importance_at:
            self._maybe_importances(force=True)

    def _importance_failed(self, exc: BaseException) -> None:
        self.plots.importances = {}
        self.plots.importance_note = getattr(exc, "message", str(exc))
        self.plots.importance.request_redraw()
        self.log(f"Importances: {self.plots.importance_note}")

    def _importance_done(self) -> None:
        self.importance_job = None

    def _show_importances(self, imp) -> None:
        self.plots.importances = imp.as_dict()
        self.plots.importance_method = imp.method_label
        self.plots.importance_note = ""
        self.plots.importance.request_redraw()

