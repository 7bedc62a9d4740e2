"""The Optimize tab: settings and search space, Start / Stop / Resume, and
the study live: history, learning curves, trials, importances."""

from __future__ import annotations

import dataclasses
import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QSplitter, QVBoxLayout, QWidget

from allgui.core.errors import AllguiError, Cancelled
from allgui.core.project import Project
from allgui.gui.jobs import stateless
from allgui.gui.optimize.follow import StudyFollower
from allgui.gui.optimize.form import ActionBar, SearchForm
from allgui.gui.optimize.importances import ImportancesMixin
from allgui.gui.optimize.live import LiveSearch
from allgui.gui.optimize.plots import OptimizePlots
from allgui.gui.optimize.shared_view import FollowedMixin, study_words
from allgui.gui.optimize.studies import read_studies
from allgui.gui.optimize.trials_model import TrialBook
from allgui.gui.optimize.trials_table import TrialsTable
from allgui.gui.optimize.work import read_study, search
from allgui.gui.tab import ProjectTab
from allgui.gui.widgets.elided import ElidedLabel
from allgui.gui.widgets.progress import JobProgress, format_duration

# The form's widgets, read by the tab (and by tests) as its own.
FORM_FIELDS = ("study_picker", "study_name", "trials", "epochs", "mode", "views", "startup_trials", "objective",
               "pruning", "seed", "device", "storage_label", "storage_button", "backbone",
               "weights", "weights_file", "space_editor")


class OptimizeTab(LiveSearch, FollowedMixin, ImportancesMixin, ProjectTab):
    title = "&Optimize"

    def __init__(self, window) -> None:
        super().__init__(window)
        self.book = TrialBook()
        self.session = window.session
        self.total_trials = 0
        self.study_started = 0.0
        self.clock = time.monotonic  # the estimate's clock (a test may give its own)
        self._trials_began: float | None = None  # when this run's first trial started
        self._trial_part = 0.0  # the share of the running trial's epochs done
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
        self.study_label = ElidedLabel("")  # the whole line on hover when it is cut
        rlayout.addWidget(self.study_label)
        self.workers_label = ElidedLabel("")  # a study shared with workers: who runs what
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
        self._splitter, self._split_set = splitter, False
        QShortcut(QKeySequence("Ctrl+R"), self, self.start)
        self.form.restore_choices(self.settings)
        self.session.study_changed.connect(self._study_selected)
        self.study_name.editingFinished.connect(lambda: self.pick_study(self.study_name.text()))
        self.study_picker.activated.connect(
            lambda i: self.pick_study(self.study_picker.itemData(i) or ""))
        self.project_changed(None)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._split_set:  # the first time: the form's words whole where there is room
            self._split_set = True
            total = self._splitter.width()
            form = max(self.form.minimumWidth(), min(self.form.sizeHint().width(), total * 2 // 5))
            self._splitter.setSizes([form, total - form])

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
        self.form.model_edited.connect(self._save_model)
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

    def _save_model(self) -> None:
        """The backbone and weights go into the project as the user changes them
        (not only when a search starts), so reopening the project shows them."""
        if self.project is None or self.job is not None:
            return
        try:
            model = self.model_settings()
        except AllguiError:  # "Local file" with no file chosen yet: nothing to keep
            return
        if model != self.project.settings.model:
            try:
                self.project.update(model=model)
            except (AllguiError, OSError) as exc:
                self.show_error(exc, "The model choice was not saved")

    def _prepare_plots(self) -> None:
        # Set now, while the user edits the form, so that pressing Start finds the
        # axes already drawn as the search needs them.
        if self.job is None:
            self.plots.prepare(self.trials.value(), self.epochs.value(), now=False)

    # -- project ---------------------------------------------------------------------
    def project_changed(self, project: Project | None) -> None:
        self.study_picker.fill((), "")
        self.workers_label.setVisible(False)
        self._show_storage()
        if project is not None:
            self.form.fill(project, self.log)
        self._show_study()
        if project is not None:
            self.read_studies()

    # -- the study the session has selected ----------------------------------------
    def pick_study(self, name: str) -> None:
        """Show (and search) study ``name``: an existing one, or a new one."""
        name = name.strip()
        if not name or name == self.session.study:
            self.study_name.setText(self.session.study)
            return
        if self.job is not None:
            self.show_error("Stop the search before picking another study.")
            self.study_name.setText(self.session.study)
            return
        self.session.select_study(name)

    def _study_selected(self, name: str) -> None:
        self._show_study()

    def _show_study(self) -> None:
        """Draw the selected study from nothing: no trial of another one stays."""
        name = self.session.study
        self.study_name.setText(name)
        self.study_picker.show_current(name)
        self.book.clear()
        self.trials_table.clear_rows()
        self.plots.reset()
        self._prepare_plots()
        self.plots.importances, self.plots.importance_note = {}, ""
        self._importance_at = 0
        self.result = None
        self.progress.set_running(False, "")
        self.start_button.setText("Start search")
        self.study_label.setText(f"Study '{name}': no trial yet." if self.project
                                 else "Open a project to search.")
        if self.project is not None:
            self.load_study()
        self.follower.follow(self.project, name)
        self._update_buttons()

    def read_studies(self) -> None:
        project = self.project
        self.start_job("Listing the studies", stateless(read_studies), project,
                       on_success=lambda infos: project is self.project and
                       self.study_picker.fill(infos, self.session.study),
                       on_failure=lambda exc: self.log(
                           f"Studies not listed: {getattr(exc, 'message', exc)}"))

    def load_study(self) -> None:
        """Show the project's study as it stands (to follow or resume it)."""
        project = self.project
        try:
            if project is None or (project.sqlite_path is not None
                                   and not project.sqlite_path.exists()):
                return
        except AllguiError as exc:  # a storage the project's file names and no one chose here
            self.show_error(exc, "The project's study cannot be opened")
            return
        from allgui.core.search.settings import SearchSettings

        try:
            settings = self.search_settings()
        except AllguiError:
            settings = SearchSettings()
        settings = dataclasses.replace(settings, study_name=self.session.study)
        self.start_job(
            "Reading the study", stateless(read_study), project, settings,
            on_success=self._study_loaded,
            on_failure=lambda exc: self.log(f"No study shown: {getattr(exc, 'message', exc)}"),
        )

    def _study_loaded(self, result) -> None:
        if result.study_name != self.session.study or self.job is not None:
            return  # another study was picked (or a search began) meanwhile
        self.result = result
        self.book.clear()
        for t in result.trials:
            rec = self.book.record(t.number)
            state = "stopped" if t.stopped else t.state
            rec.state, rec.value, rec.params = state, t.value, dict(t.params)
            rec.duration_s, rec.reason = t.duration_s, t.reason
            rec.worker = t.worker
        # all rows at once: one sort for the study, not one per trial
        self.trials_table.show_trials([self.book.trials[t.number] for t in result.trials])
        self.plots.set_objective(result.objective)
        self.plots.refresh()
        self.study_label.setText(f"Study '{result.study_name}': {study_words(result)}; "
                                 f"trials took {format_duration(result.study_s)} in all")
        self._show_resume(result)
        if result.trials:  # what the study holds, not an empty bar beside finished trials
            asked = max(self.trials.value(), result.n_counted)
            self.progress.set_ended(f"{result.n_counted} of {asked} trials done.",
                                    result.n_counted, asked)
        self._maybe_importances(force=True)
        self.window_.search_finished(result)  # the Validate tab offers its trials

    # -- running --------------------------------------------------------------------------
    def _update_buttons(self) -> None:
        running = self.job is not None
        ok = self.project is not None and self.space_editor.is_valid() and not running
        self.start_button.setEnabled(ok)
        self.stop_button.setEnabled(running and not self.job.stopping)
        self.storage_button.setEnabled(self.project is not None and not running)
        self.study_picker.setEnabled(self.project is not None and not running)

    def _show_resume(self, result) -> None:
        """The button says what Start runs: the trials the budget still lacks
        (a stopped trial is not done: it runs again)."""
        asked, counted = self.trials.value(), result.n_counted
        self.start_button.setText(f"Resume search ({counted} of {asked} done)"
                                  if result.trials and counted < asked else "Start search")

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
        if self.session.refuse_unapplied(self.show_error, "starting the search"):
            return
        self.pick_study(self.study_name.text())  # a typed name not yet picked: picked now
        try:
            settings = dataclasses.replace(self.search_settings(), study_name=self.session.study)
            model = self.model_settings()
        except AllguiError as exc:
            self.show_error(exc, "The search cannot start")
            return
        r = self.result
        if r is not None and r.study_name == settings.study_name and r.n_counted >= settings.trials:
            self.show_error(f"The study '{r.study_name}' is finished: it holds {r.n_counted} of "
                            f"the {settings.trials} trials asked for. Raise Trials above "
                            f"{r.n_counted} to run more, or type a new study name.",
                            "Nothing to run")
            return
        project = self.project
        self.save_choices()
        self.total_trials = settings.trials
        self._trials_done, self._remaining = 0, 0
        self.plots.set_objective(settings.objective)
        self.plots.prepare(settings.trials, settings.epochs)
        self.study_started = self.clock()
        self._trials_began, self._trial_part = None, 0.0
        self.run_job("Search", search, project, settings, model,
                     text="Preparing the data…", on_event=self.on_event,
                     on_success=self._finished, on_failure=self._failed, exclusive=True,
                     what="starting the search")
        self.follower.follow(project, settings.study_name)  # other workers' trials too

    def _finished(self, result) -> None:
        if result.study_name != self.session.study:
            return
        self.result = result
        state = "stopped" if result.stopped else "finished"
        best = (f"; best {result.best.value:.4f} (trial {result.best.number})"
                if result.best else "")
        self.progress.set_running(False, f"Search {state}{best}.", done=not result.stopped)
        self.study_label.setText(
            f"Study '{result.study_name}': {study_words(result)}; trials took "
            f"{format_duration(result.study_s)} in all (this run "
            f"{format_duration(result.duration_s)})"
            + (f"; pruning saved {result.epochs_saved_by_pruning} epochs"
               if result.epochs_saved_by_pruning else ""))
        self._show_resume(result)
        self.log(f"Search {state}: {result.n_complete} complete trials{best}")
        self._maybe_importances(force=True)
        self.window_.search_finished(result)
        # One reader of the study at a time: two at once, on top of the window,
        # starve its thread of Python's lock for half a second on a busy CPU.
        self.after_importances(self.read_studies)

    def _failed(self, exc: BaseException) -> None:
        self.progress.set_running(False, "The search did not run." if not isinstance(
            exc, Cancelled) else "Stopped.", done=False)
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
