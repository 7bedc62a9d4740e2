"""File > New: a form for a project made on purpose (name, location, dataset
folder, image size, backbone, weights, protocol). It refuses, before anything is
written, a folder that is not empty and not a project, a dataset folder
without images (saying which files are there and why each cannot be used), and
a backbone the engine would refuse before training (the same check)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from allgui.core import protocols
from allgui.core.checks import SettingError
from allgui.core.errors import AllguiError
from allgui.core.files.text import terminal_text
from allgui.core.model.backbones import CHOICES
from allgui.core.project import CONFIG_NAME, DatasetSettings, ModelSettings, ProjectSettings
from allgui.gui import dialogs
from allgui.gui.dataset.explain import folder_problem
from allgui.gui.device import has_training_engine
from allgui.gui.widgets.text import plain_label

WEIGHTS = (("imagenet", "ImageNet (download once)"), ("none", "None (random)"),
           ("file", "Local file…"))  # offline: a weights file downloaded once elsewhere
WEIGHT_FILES = "Weights (*.safetensors *.pth *.pt *.bin)"
PROTOCOLS = (("recommended", "Recommended: allgui's choices, each with its reason"),
             ("paper", "The study's: its method exactly as written"))


def target_problem(folder: Path) -> str:
    """'' when a project can be made at ``folder``."""
    if (folder / CONFIG_NAME).is_file():
        return f"{folder} already holds a project; open it with File > Open project."
    if folder.exists() and not folder.is_dir():
        return f"{folder} is a file, not a folder."
    if folder.is_dir() and any(folder.iterdir()):
        return (f"{folder} is not empty and is not an allgui project. Choose another name or "
                "location: allgui makes its project in a folder of its own.")
    return ""


def model_problem(model: ModelSettings) -> str:
    """'' when every search would take ``model``; else the sentence the engine
    refuses it with (a name timm does not know, a transformer without a
    spatial feature map, ...). The classify-only build has nothing to check with."""
    if not has_training_engine():
        return ""
    from allgui.core.model.check import check_model_settings

    try:
        check_model_settings(model)
    except SettingError as exc:
        return exc.message
    return ""


def _path_row(edit: QLineEdit, pick) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    button = QPushButton("Choose…")
    button.clicked.connect(pick)
    layout.addWidget(edit, 1)
    layout.addWidget(button)
    return row


class NewProjectForm(QDialog):
    def __init__(self, parent: QWidget | None, location: Path, name: str = "my-project") -> None:
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.setMinimumWidth(560)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.name = QLineEdit(name)
        self.location = QLineEdit(str(location))
        self.dataset = QLineEdit()
        self.dataset.setPlaceholderText("optional: the folder of images (or choose it later)")
        self.image_size = QSpinBox()
        self.image_size.setRange(16, 1024)
        self.image_size.setValue(DatasetSettings().image_size)
        self.backbone = QComboBox()
        self.backbone.setEditable(True)
        self.backbone.addItems(CHOICES)
        # checked when picked or typed, as every search checks it before training
        self.backbone.activated.connect(self._check_backbone)
        self.backbone.lineEdit().editingFinished.connect(self._check_backbone)
        self.weights = QComboBox()
        for key, words in WEIGHTS:
            self.weights.addItem(words, key)
        self.weights_file = QLineEdit()
        self.weights_file.setPlaceholderText("weights file (.safetensors or .pth)")
        self.weights_file_row = _path_row(self.weights_file, self._pick_weights)
        self.weights.currentIndexChanged.connect(self._weights_changed)
        self.protocol = QComboBox()
        for key, words in PROTOCOLS:
            self.protocol.addItem(words, key)
        self.protocol.setCurrentIndex(self.protocol.findData(protocols.DEFAULT))
        self.protocol.setToolTip("\n".join(
            line for name in protocols.NAMES for line in protocols.protocol(name).describe()[:1]))
        form.addRow("Name", self.name)
        form.addRow("Location", _path_row(self.location, self._pick_location))
        form.addRow("Dataset folder", _path_row(self.dataset, self._pick_dataset))
        form.addRow("Image size (px)", self.image_size)
        form.addRow("Backbone", self.backbone)
        form.addRow("Weights", self.weights)
        form.addRow("", self.weights_file_row)
        form.setRowVisible(self.weights_file_row, False)
        form.addRow("Protocol", self.protocol)
        self._form = form
        layout.addLayout(form)
        self.problem = plain_label("")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #b00020;")
        layout.addWidget(self.problem)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.create_button = self.buttons.addButton("Create project",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.try_accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def _check_backbone(self, *_args) -> None:
        name = self.backbone.currentText().strip()
        try:
            problem = model_problem(ModelSettings(backbone=name, weights="none")) if name else ""
        except SettingError as exc:
            problem = exc.message
        self.problem.setText(problem)

    def _pick_location(self) -> None:
        path = dialogs.choose_directory(self, "Where to make the project", self.location.text())
        if path:
            self.location.setText(path)

    def _pick_dataset(self) -> None:
        path = dialogs.choose_directory(self, "Choose the dataset folder", self.dataset.text())
        if path:
            self.dataset.setText(path)

    def _weights_changed(self) -> None:
        is_file = self.weights.currentData() == "file"
        self._form.setRowVisible(self.weights_file_row, is_file)
        if is_file and not self.weights_file.text().strip():
            self._pick_weights()

    def _pick_weights(self) -> None:
        path = dialogs.choose_open_file(self, "Choose a weights file", self.weights_file.text(),
                                        WEIGHT_FILES)
        if path:
            self.weights_file.setText(path)

    def chosen_weights(self) -> str:
        """'imagenet', 'none' or the local file's full path; raises AllguiError."""
        kind = self.weights.currentData()
        if kind != "file":
            return kind
        text = self.weights_file.text().strip()
        if not text:
            raise AllguiError("Choose the weights file, or another kind of weights.")
        path = Path(text).expanduser()
        if not path.is_file():
            raise AllguiError(f"The weights file {terminal_text(path)} does not exist; "
                              "choose it again.")
        return str(path.resolve())

    def folder(self) -> Path:
        return Path(self.location.text().strip()).expanduser() / self.name.text().strip()

    def values(self) -> tuple[Path, ProjectSettings]:
        """The project to make; raises AllguiError saying what to change."""
        name = self.name.text().strip()
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise AllguiError("Give the project a name (a folder name, without slashes).")
        if not self.location.text().strip():
            raise AllguiError("Choose where to make the project.")
        folder = self.folder()
        problem = target_problem(folder)
        if problem:
            raise AllguiError(problem)
        data = self.dataset.text().strip()
        if data:
            problem = folder_problem(data)
            if problem:
                raise AllguiError(problem)
            data = str(Path(data).expanduser().resolve())
        try:
            settings = ProjectSettings(
                dataset=DatasetSettings(path=data, image_size=self.image_size.value()),
                model=ModelSettings(backbone=self.backbone.currentText().strip(),
                                    weights=self.chosen_weights()),
            ).with_protocol(self.protocol.currentData())
        except SettingError as exc:
            raise AllguiError(exc.message) from exc
        problem = model_problem(settings.model)
        if problem:
            raise AllguiError(problem)
        return folder, settings

    def try_accept(self) -> None:
        try:
            self.values()
        except AllguiError as exc:
            self.problem.setText(exc.message)
            return
        self.problem.setText("")
        self.accept()
