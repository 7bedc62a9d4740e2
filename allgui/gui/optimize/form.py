"""The Optimize tab's form: the search settings, the backbone and the search
space, read as the engine's settings and filled from a project; and the bar
with Start and Stop, kept outside the scrolled form so it stays in view."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from allgui.core.errors import AllguiError
from allgui.core.model.backbones import CHOICES as BACKBONES
from allgui.core.model.measures import BY_NAME
from allgui.core.model.measures import OBJECTIVES as MEASURE_OBJECTIVES
from allgui.core.project import ModelSettings, Project
from allgui.core.search.settings import SearchSettings
from allgui.gui import dialogs
from allgui.gui.optimize.space_editor import SpaceEditor
from allgui.gui.optimize.studies import StudyPicker
from allgui.gui.widgets.elided import ElidedCombo, ElidedLabel

# The measures registry's objectives, in its words.
OBJECTIVES = tuple((name, BY_NAME[name].short[:1].upper() + BY_NAME[name].short[1:])
                   for name in MEASURE_OBJECTIVES)
MODES = (("cached", "Cached features (fast; frozen backbone)"),
         ("online", "Online (backbone every epoch)"))
PRUNING = (("none", "None"), ("median", "Median"), ("hyperband", "Hyperband"))
WEIGHTS = (("imagenet", "ImageNet (download once)"), ("none", "None (random)"),
           ("file", "Local file…"))
DEVICES = (("auto", "Automatic (GPU when there is one)"), ("cpu", "CPU"), ("cuda", "GPU (CUDA)"))
CHOICES = ("mode", "objective", "pruning", "device")  # remembered between sessions
DEFAULT_CHOICES = {"mode": "cached", "objective": "accuracy", "pruning": "none", "device": "auto"}


def _combo(items) -> QComboBox:
    box = ElidedCombo()  # narrow: the choice shortens with "…", whole on hover
    for key, words in items:
        box.addItem(words, key)
    return box


def _select(box: QComboBox, key) -> None:
    i = box.findData(key)
    if i >= 0:
        box.setCurrentIndex(i)


def _spin(low: int, high: int, value: int, tip: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    if tip:
        spin.setToolTip(tip)
    return spin


class SearchForm(QScrollArea):
    """The settings column. Its widgets are public: the tab reads them.
    ``model_edited``: the user changed the backbone or its weights (saved at once)."""

    model_edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._filling = False
        self.setWidgetResizable(True)
        holder = QWidget()
        layout = QVBoxLayout(holder)
        layout.addWidget(self._build_search())
        layout.addWidget(self._build_backbone())
        space_box = QGroupBox("Search space")
        self.space_editor = SpaceEditor()
        QVBoxLayout(space_box).addWidget(self.space_editor)
        layout.addWidget(space_box, 1)
        self.setWidget(holder)
        # as narrow as its fields allow (their words shorten): the plots get the rest
        self.setMinimumWidth(holder.minimumSizeHint().width() + 2 * self.frameWidth()
                             + self.verticalScrollBar().sizeHint().width())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's
        """As wide as its fields want, where the window has the room (their words
        whole); the splitter narrows it to :meth:`minimumWidth` on a small window."""
        hint = super().sizeHint()
        want = self.widget().sizeHint().width() + 2 * self.frameWidth() + \
            self.verticalScrollBar().sizeHint().width()
        return QSize(max(hint.width(), want), hint.height())

    def _build_search(self) -> QGroupBox:
        box = QGroupBox("Search")
        form = QFormLayout(box)
        self.study_picker = StudyPicker()
        self.study_name = QLineEdit("search")
        self.study_name.setToolTip("A new name starts a new study (press Enter); the same name "
                                   "continues it")
        self.trials = _spin(1, 10_000, 20)
        self.epochs = _spin(1, 1000, 10)
        self.mode = _combo(MODES)
        self.views = _spin(1, 100, 10, "Augmented views of each image computed once (cached "
                                       "mode); epoch e uses view e mod K")
        self.startup_trials = _spin(0, 1000, 10,
                                    "Random trials before TPE starts modelling the results")
        self.multivariate = QCheckBox("Multivariate TPE")
        self.multivariate.setToolTip("Model the parameters together (allgui's recommended "
                                     "protocol); off: Optuna's default independent TPE, as "
                                     "the study ran it")
        self.augmentation = QLabel("")  # how images are augmented, from the project's settings
        self.augmentation.setWordWrap(True)
        # Everything [search] holds that the form does not show (augmentation, precision,
        # validation loss, ...): kept as loaded, so a search from the window never resets it.
        self._loaded = SearchSettings()
        for changed in (self.epochs.valueChanged, self.views.valueChanged,
                        self.mode.currentIndexChanged):
            changed.connect(self._show_augmentation)
        self.objective = _combo(OBJECTIVES)
        self.pruning = _combo(PRUNING)
        self.seed = _spin(0, 2**31 - 1, 0)
        self.device = _combo(DEVICES)
        storage_row = QHBoxLayout()
        self.storage_label = ElidedLabel("", Qt.ElideMiddle)  # a database URL can be long
        self.storage_label.setToolTip("Where the study is kept: this project's study.db, or a "
                                      "database shared with workers on other machines")
        self.storage_button = QPushButton("Change…")
        storage_row.addWidget(self.storage_label, 1)
        storage_row.addWidget(self.storage_button)
        form.addRow("Study storage", storage_row)
        form.addRow("Study", self.study_picker)
        form.addRow("Study name", self.study_name)
        form.addRow("Trials", self.trials)
        form.addRow("Epochs per trial", self.epochs)
        form.addRow("Mode", self.mode)
        form.addRow("Views (cached mode)", self.views)
        form.addRow("Objective", self.objective)
        form.addRow("Pruning", self.pruning)
        form.addRow("Seed", self.seed)
        form.addRow("Random start trials", self.startup_trials)
        form.addRow("", self.multivariate)
        form.addRow("Device", self.device)
        form.addRow(self.augmentation)
        return box

    def _build_backbone(self) -> QGroupBox:
        box = QGroupBox("Backbone")
        form = QFormLayout(box)
        self.backbone = QComboBox()
        self.backbone.setEditable(True)
        self.backbone.addItems(BACKBONES)
        self.backbone.setToolTip("Any timm model name")
        self.backbone.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.backbone.setMinimumContentsLength(12)
        self.weights = _combo(WEIGHTS)
        self.weights.currentIndexChanged.connect(self._weights_changed)
        self.weights_file = QLineEdit()
        self.weights_file.setPlaceholderText("weights file (.safetensors or .pth)")
        self.weights_file.setVisible(False)
        self.backbone.activated.connect(self._model_edited)
        self.backbone.lineEdit().editingFinished.connect(self._model_edited)
        self.weights_file.editingFinished.connect(self._model_edited)
        form.addRow("Model", self.backbone)
        form.addRow("Weights", self.weights)
        form.addRow("", self.weights_file)
        return box

    def _weights_changed(self) -> None:
        is_file = self.weights.currentData() == "file"
        self.weights_file.setVisible(is_file)
        if is_file and not self.weights_file.text():
            path = dialogs.choose_open_file(self, "Choose a weights file", "",
                                            "Weights (*.safetensors *.pth *.pt *.bin)")
            self.weights_file.setText(path)
        self._model_edited()

    def _model_edited(self, *_args) -> None:
        if not self._filling:
            self.model_edited.emit()

    # -- remembered choices ------------------------------------------------------------
    def restore_choices(self, settings) -> None:
        for name in CHOICES:
            _select(getattr(self, name), settings.choice(f"optimize/{name}", DEFAULT_CHOICES[name]))

    def save_choices(self, settings) -> None:
        for name in CHOICES:
            settings.set_choice(f"optimize/{name}", getattr(self, name).currentData())

    # -- settings <-> form ------------------------------------------------------------
    def search_settings(self):
        """The form over the settings it was filled with (those it does not
        show kept as they were) as SearchSettings; raises AllguiError in plain words."""
        return dataclasses.replace(
            self._loaded,
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
            multivariate=self.multivariate.isChecked(),
            space=self.space_editor.space(),
        )

    def _show_augmentation(self) -> None:
        """Say how images will be augmented, views and epochs as the form has them."""
        try:
            s = dataclasses.replace(self._loaded, epochs=self.epochs.value(),
                                    views=self.views.value(), mode=self.mode.currentData())
        except AllguiError:
            return  # a value the search will refuse in words of its own
        self.augmentation.setText(s.augmentation_words())

    def model_settings(self, model: ModelSettings) -> ModelSettings:
        """``model`` with the form's backbone and weights."""
        weights = self.weights.currentData()
        if weights == "file":
            weights = self.weights_file.text().strip()
            if not weights:
                raise AllguiError("Choose the weights file, or another kind of weights.")
        return dataclasses.replace(model, backbone=self.backbone.currentText().strip(),
                                   weights=weights)

    def fill(self, project: Project, log: Callable[[str], None]) -> None:
        try:
            s = SearchSettings.from_project(project)
        except AllguiError as exc:
            log(f"The project's search settings cannot be read ({exc.message}); "
                "showing the defaults.")
            s = SearchSettings()
        self._loaded = s
        self.multivariate.setChecked(s.multivariate)
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
        self._show_augmentation()
        model = project.settings.model
        self._filling = True  # the project's own choice, not an edit to save
        try:
            self.backbone.setCurrentText(model.backbone)
            if model.weights in ("imagenet", "none"):
                _select(self.weights, model.weights)
            else:
                self.weights_file.setText(model.weights)
                _select(self.weights, "file")
        finally:
            self._filling = False


class ActionBar(QWidget):
    """Start and Stop, below the form."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.start_button = QPushButton("Start search")
        self.start_button.setToolTip("Run (or continue) the study (Ctrl+R)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop within a second; finished trials are kept (Esc)")
        self.stop_button.setEnabled(False)
        row.addWidget(self.start_button)
        row.addWidget(self.stop_button)
