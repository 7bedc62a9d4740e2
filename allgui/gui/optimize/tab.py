"""The Optimize tab: settings and search space, Start / Stop / Resume, and
the study live: history, learning curves, trials, importances."""

from __future__ import annotations

import dataclasses
import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
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
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

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
from allgui.gui import dialogs
from allgui.gui.optimize.follow import StudyFollower, ask_storage, describe_workers
from allgui.gui.optimize.plots import OptimizePlots
from allgui.gui.optimize.space_editor import SpaceEditor
from allgui.gui.optimize.trials_model import TrialBook
from allgui.gui.tab import ProjectTab
from allgui.gui.widgets.progress import JobProgress, format_duration

OBJECTIVES = (
    ("accuracy", "Accuracy (the paper)"),
    ("balanced_accuracy", "Balanced accuracy"),
    ("weighted_f1", "Weighted F1 (C-NMC challenge)"),
    ("auc", "AUC"),
)
MODES = (("cached", "Cached features (fast; frozen backbone)"),
         ("online", "Online (backbone every epoch)"))
PRUNING = (("none", "None"), ("median", "Median"), ("hyperband", "Hyperband"))
WEIGHTS = (("imagenet", "ImageNet (download once)"), ("none", "None (random)"),
           ("file", "Local file…"))
DEVICES = (("auto", "Automatic (GPU when there is one)"), ("cpu", "CPU"), ("cuda", "GPU (CUDA)"))
TRIAL_COLUMNS = ("Trial", "State", "Value", "Duration (s)", "Parameters", "Why", "Worker")
IMPORTANCE_EVERY = 2  # recompute importances after this many more complete trials


def _combo(items) -> QComboBox:
    box = QComboBox()
    for key, words in items:
        box.addItem(words, key)
    return box


def _select(box: QComboBox, key) -> None:
    i = box.findData(key)
    if i >= 0:
        box.setCurrentIndex(i)


def compute_importances(project: Project, study_name: str):
    """Parameter importances of the project's study (read only)."""
    from allgui.core.search.importance import parameter_importances
    from allgui.core.search.study import load_study

    return parameter_importances(load_study(project, study_name), "ped-anova")


class OptimizeTab(ProjectTab):
    title = "&Optimize"

    def __init__(self, window) -> None:
        super().__init__(window)
        self.book = TrialBook()
        self.job = None
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
        self.trials_table = QTableWidget(0, len(TRIAL_COLUMNS))
        self.trials_table.setHorizontalHeaderLabels(TRIAL_COLUMNS)
        self.trials_table.setSortingEnabled(True)
        self.trials_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.trials_table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.trials_table.verticalHeader().setVisible(False)
        header = self.trials_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.Stretch)
        self.trials_table.itemSelectionChanged.connect(self._trial_selected)
        inner.addWidget(self.trials_table)
        inner.setStretchFactor(0, 3)
        inner.setStretchFactor(1, 2)
        rlayout.addWidget(inner, 1)
        self.study_label = QLabel("")
        rlayout.addWidget(self.study_label)
        self.workers_label = QLabel("")  # a study shared with workers: who runs what
        self.workers_label.setVisible(False)
        rlayout.addWidget(self.workers_label)
        self.follower = StudyFollower(self)
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
        self._rows: dict[int, int] = {}
        self._restore_choices()
        self.project_changed(None)

    # -- the settings column -------------------------------------------------------
    def _build_settings(self) -> QWidget:
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        holder = QWidget()
        layout = QVBoxLayout(holder)
        box = QGroupBox("Search")
        form = QFormLayout(box)
        self.study_name = QLineEdit("search")
        self.study_name.setToolTip("A new name starts a new study; the same name continues it")
        self.trials = QSpinBox()
        self.trials.setRange(1, 10_000)
        self.trials.setValue(20)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(10)
        for spin in (self.trials, self.epochs):  # the plots' axes follow the form
            spin.valueChanged.connect(self._prepare_plots)
        self.mode = _combo(MODES)
        self.views = QSpinBox()
        self.views.setRange(1, 100)
        self.views.setValue(10)
        self.views.setToolTip("Augmented views of each image computed once (cached mode); "
                              "epoch e uses view e mod K")
        self.startup_trials = QSpinBox()
        self.startup_trials.setRange(0, 1000)
        self.startup_trials.setValue(10)
        self.startup_trials.setToolTip("Random trials before TPE starts modelling the results")
        self.objective = _combo(OBJECTIVES)
        self.pruning = _combo(PRUNING)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.device = _combo(DEVICES)
        storage_row = QHBoxLayout()
        self.storage_label = QLabel("")
        self.storage_label.setToolTip("Where the study is kept: this project's study.db, or a "
                                      "database shared with workers on other machines")
        self.storage_button = QPushButton("Change…")
        self.storage_button.clicked.connect(self._change_storage)
        storage_row.addWidget(self.storage_label, 1)
        storage_row.addWidget(self.storage_button)
        form.addRow("Study storage", storage_row)
        form.addRow("Study name", self.study_name)
        form.addRow("Trials", self.trials)
        form.addRow("Epochs per trial", self.epochs)
        form.addRow("Mode", self.mode)
        form.addRow("Views (cached mode)", self.views)
        form.addRow("Objective", self.objective)
        form.addRow("Pruning", self.pruning)
        form.addRow("Seed", self.seed)
        form.addRow("Random start trials", self.startup_trials)
        form.addRow("Device", self.device)
        layout.addWidget(box)

        model_box = QGroupBox("Backbone")
        mform = QFormLayout(model_box)
        self.backbone = QComboBox()
        self.backbone.setEditable(True)
        self.backbone.addItems(["efficientnet_b2", "efficientnet_b0", "resnet18",
                                "mobilenetv3_small_050", "convnext_tiny"])
        self.backbone.setToolTip("Any timm model name")
        self.weights = _combo(WEIGHTS)
        self.weights.currentIndexChanged.connect(self._weights_changed)
        self.weights_file = QLineEdit()
        self.weights_file.setPlaceholderText("weights file (.safetensors or .pth)")
        self.weights_file.setVisible(False)
        mform.addRow("Model", self.backbone)
        mform.addRow("Weights", self.weights)
        mform.addRow("", self.weights_file)
        layout.addWidget(model_box)

        space_box = QGroupBox("Search space")
        self.space_editor = SpaceEditor()
        self.space_editor.changed.connect(self._space_checked)
        QVBoxLayout(space_box).addWidget(self.space_editor)
        layout.addWidget(space_box, 1)

        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start search")
        self.start_button.setToolTip("Run (or continue) the study (Ctrl+R)")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop within a second; finished trials are kept (Esc)")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.setEnabled(False)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        layout.addLayout(buttons)
        scroll.setWidget(holder)
        scroll.setMinimumWidth(470)
        return scroll

    def _weights_changed(self) -> None:
        is_file = self.weights.currentData() == "file"
        self.weights_file.setVisible(is_file)
        if is_file and not self.weights_file.text():
            path = dialogs.choose_open_file(self, "Choose a weights file", "",
                                            "Weights (*.safetensors *.pth *.pt *.bin)")
            self.weights_file.setText(path)

    def _space_checked(self, ok: bool) -> None:
        self._update_buttons()

    def _restore_choices(self) -> None:
        s = self.settings
        _select(self.mode, s.choice("optimize/mode", "cached"))
        _select(self.objective, s.choice("optimize/objective", "accuracy"))
        _select(self.pruning, s.choice("optimize/pruning", "none"))
        _select(self.device, s.choice("optimize/device", "auto"))

    def save_choices(self) -> None:
        s = self.settings
        s.set_choice("optimize/mode", self.mode.currentData())
        s.set_choice("optimize/objective", self.objective.currentData())
        s.set_choice("optimize/pruning", self.pruning.currentData())
        s.set_choice("optimize/device", self.device.currentData())

    # -- settings <-> form ------------------------------------------------------------
    def search_settings(self):
        """The form as SearchSettings; raises AllguiError in plain words."""
        from allgui.core.search.settings import SearchSettings

        return SearchSettings(
            study_name=self.study_name.text().strip(),
            trials=self.trials.value(),
            epochs=self.epochs.value(),
            mode=self.mode.currentData(),
            views=self.views.value(),
            startup_trials=self.startup_trials.value(),
            objective=self.objective.currentData(),
            pruning=self.pruning.currentData(),
            seed=self.seed.value(),
            device=self.device.currentData(),
            space=self.space_editor.space(),
        )

    def model_settings(self):
        model = self.project.settings.model
        weights = self.weights.currentData()
        if weights == "file":
            weights = self.weights_file.text().strip()
            if not weights:
                raise AllguiError("Choose the weights file, or another kind of weights.")
        return dataclasses.replace(model, backbone=self.backbone.currentText().strip(),
                                   weights=weights)

    def _prepare_plots(self) -> None:
        # Set now, while the user edits the form, so that pressing Start finds the
        # axes already drawn as the search needs them.
        if self.job is None:
            self.plots.prepare(self.trials.value(), self.epochs.value(), now=False)

    def _fill_form(self, project: Project) -> None:
        from allgui.core.search.settings import SearchSettings

        try:
            s = SearchSettings.from_project(project)
        except AllguiError as exc:
            self.log(f"The project's search settings cannot be read ({exc.message}); "
                     "showing the defaults.")
            s = SearchSettings()
        self.study_name.setText(s.study_name)
        self.trials.setValue(s.trials)
        self.epochs.setValue(s.epochs)
        _select(self.mode, s.mode)
        self.views.setValue(s.views)
        self.startup_trials.setValue(s.startup_trials)
        _select(self.objective, s.objective)
        _select(self.pruning, s.pruning)
        self.seed.setValue(s.seed)
        _select(self.device, s.device)
        self.space_editor.set_space(s.space)
        model = project.settings.model
        self.backbone.setCurrentText(model.backbone)
        if model.weights in ("imagenet", "none"):
            _select(self.weights, model.weights)
        else:
            self.weights_file.setText(model.weights)
            _select(self.weights, "file")

    # -- project ---------------------------------------------------------------------
    def project_changed(self, project: Project | None) -> None:
        self.book.clear()
        self.trials_table.setRowCount(0)
        self._rows.clear()
        self.plots.reset()
        self._prepare_plots()
        self.result = None
        self.study_label.setText("" if project else "Open a project to search.")
        self.workers_label.setVisible(False)
        self._show_storage()
        if project is not None:
            self._fill_form(project)
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

        def read(sink, cancel):  # on the job's thread: torch and optuna load there
            from allgui.core.search.study import load_search_result

            return load_search_result(project, settings)

        self.start_job(
            "Reading the study",
            read,
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
        self.stop_button.setEnabled(running)
        self.storage_button.setEnabled(self.project is not None and not running)

    def start(self) -> None:
        if self.job is not None or self.window_.refuse_second_job("starting the search"):
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
        self.progress.set_running(True, "Preparing the data…")

        def search(sink, cancel):  # on the job's thread: torch and optuna load there
            from allgui.core.search.runner import search_with_model

            # A study that refuses the model settings leaves the project's as they were.
            return search_with_model(project, settings, model, sink, cancel)

        self.job = self.start_job(
            "Search",
            search,
            on_event=self.on_event,
            on_success=self._finished,
            on_failure=self._failed,
            on_done=self._job_done,
            exclusive=True,
        )
        self.follower.follow(project, settings.study_name)  # other workers' trials too
        self._update_buttons()

    def stop(self) -> None:
        if self.job is not None:
            self.job.stop()
            self.progress.label.setText("Stopping…")
            self.stop_button.setEnabled(False)

    def on_event(self, event: Event) -> None:
        self.progress.on_event(event)
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

    def _job_done(self) -> None:
        self.job = None
        if self.progress.stop_button.isEnabled():
            self.progress.set_running(False, "")
        self._update_buttons()

    # -- trials table --------------------------------------------------------------------
    def _show_trial(self, number: int) -> None:
        rec = self.book.trials[number]
        t = self.trials_table
        sorting = t.isSortingEnabled()
        t.setSortingEnabled(False)
        row = self._find_row(number)
        if row is None:
            row = t.rowCount()
            t.insertRow(row)
        params = ", ".join(f"{k}={_short(v)}" for k, v in rec.params.items())
        values = [number, rec.state, rec.value, rec.duration_s, params, rec.reason, rec.worker]
        for col, v in enumerate(values):
            item = QTableWidgetItem()
            if isinstance(v, (int, float)) and v is not None:
                item.setData(Qt.DisplayRole, round(v, 4) if isinstance(v, float) else v)
            else:
                item.setText("" if v is None else str(v))
            if col == 4:
                item.setToolTip("\n".join(f"{k} = {v}" for k, v in rec.params.items()))
            if rec.state in ("pruned", "failed"):
                item.setForeground(Qt.darkRed if rec.state == "failed" else Qt.darkYellow)
            t.setItem(row, col, item)
        t.setSortingEnabled(sorting)

    def _find_row(self, number: int) -> int | None:
        for row in range(self.trials_table.rowCount()):
            item = self.trials_table.item(row, 0)
            if item is not None and item.data(Qt.DisplayRole) == number:
                return row
        return None

    def _trial_selected(self) -> None:
        rows = self.trials_table.selectionModel().selectedRows()
        if rows:
            self.plots.curve_trial = self.trials_table.item(rows[0].row(), 0).data(Qt.DisplayRole)
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
        project, name = self.project, self.study_name.text().strip()
        self.importance_job = self.start_job(
            "Importances",
            lambda sink, cancel: compute_importances(project, name),
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


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)
