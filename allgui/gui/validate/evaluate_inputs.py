"""What "Evaluate on other data" evaluates: the model file (the project's
exported one unless the user chose another), the labelled images (class
folders or a manifest CSV) and the report's folder, each shown as chosen."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QPushButton

from allgui.core.files.text import terminal_text
from allgui.gui import dialogs
from allgui.gui.validate.evaluate_work import default_model
from allgui.gui.widgets.elided import ElidedLabel

NOT_CHOSEN = "(not chosen)"


class EvaluationInputs:
    """Mixed into :class:`~allgui.gui.validate.evaluate.EvaluationDialog`
    (which has ``tab``, ``job``, ``start`` and the paths it keeps)."""

    model_path = ""
    model_chosen = False  # by the user; else the project's model, as it changes
    data_path = ""
    folder_path = ""  # chosen by the user; '' for the default beside the images

    @staticmethod
    def _plain(text: str) -> QLabel:
        label = QLabel(text)
        label.setTextFormat(Qt.PlainText)  # file and class names are never markup
        label.setWordWrap(True)
        return label

    def _build_inputs(self) -> QGroupBox:
        box = QGroupBox("What to evaluate (nothing is trained; the images are only read)")
        grid = QGridLayout(box)
        self.model_label = ElidedLabel(NOT_CHOSEN, Qt.ElideMiddle)
        self.data_label = ElidedLabel(NOT_CHOSEN, Qt.ElideMiddle)
        self.folder_label = ElidedLabel("", Qt.ElideMiddle)
        self.model_button = QPushButton("Choose model…")
        self.model_button.setToolTip("An .onnx file exported by allgui (this project's or "
                                     "another one's)")
        self.model_button.clicked.connect(self.choose_model)
        self.classes_button = QPushButton("Class folders…")
        self.classes_button.setToolTip("A folder with one subfolder per class, each named after "
                                       "one of the model's classes")
        self.classes_button.clicked.connect(self.choose_class_folders)
        self.manifest_button = QPushButton("Manifest CSV…")
        self.manifest_button.setToolTip("A CSV file with the columns path,label and optionally "
                                        "patient; the labels are the model's class names")
        self.manifest_button.clicked.connect(self.choose_manifest)
        self.change_folder_button = QPushButton("Change…")
        self.change_folder_button.clicked.connect(self.choose_folder)
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setDefault(True)
        self.evaluate_button.clicked.connect(self.start)
        rows = ((QLabel("Model file"), self.model_label, (self.model_button,)),
                (QLabel("Labelled images"), self.data_label,
                 (self.classes_button, self.manifest_button)),
                (QLabel("Report folder"), self.folder_label, (self.change_folder_button,)))
        for r, (name, label, buttons) in enumerate(rows):
            grid.addWidget(name, r, 0)
            grid.addWidget(label, r, 1)
            for c, button in enumerate(buttons):
                grid.addWidget(button, r, 2 + c)
        grid.setColumnStretch(1, 1)
        hint = self._plain("Each class folder (or manifest label) must be named after one of "
                           "the model's classes; letter case does not matter.")
        grid.addWidget(hint, 3, 0, 1, 3)
        grid.addWidget(self.evaluate_button, 3, 3)
        return box


    def refresh_default_model(self) -> None:
        """The project's exported model, unless the user chose one."""
        if self.model_chosen or self.job is not None:
            return
        path = default_model(self.tab.project, getattr(self.tab, "exported", None))
        self.set_model(str(path) if path else "", chosen=False)

    def set_model(self, path: str, chosen: bool = True) -> None:
        self.model_path, self.model_chosen = path, chosen or self.model_chosen
        shown = terminal_text(path) if path else NOT_CHOSEN
        if path and not chosen:
            shown += "  (the project's exported model)"
        self.model_label.setText(shown)
        self._show_folder()

    def set_data(self, path: str) -> None:
        self.data_path = path
        self.data_label.setText(terminal_text(path) if path else NOT_CHOSEN)
        self._show_folder()

    def set_folder(self, path: str) -> None:
        self.folder_path = path
        self._show_folder()

    def report_folder(self) -> Path | None:
        from allgui.core.report.external import default_report_folder

        if self.folder_path:
            return Path(self.folder_path)
        if self.model_path:  # beside the model, whatever the labelled images
            return default_report_folder(self.model_path)
        return None

    def _show_folder(self) -> None:
        folder = self.report_folder()
        if folder is None:
            self.folder_label.setText("beside the model, once it is chosen")
        else:
            self.folder_label.setText(terminal_text(folder) + (
                "" if self.folder_path else "  (default, as 'allgui evaluate' writes it)"))

    def _start_dir(self, key: str) -> str:
        return str(self.tab.settings.choice(f"evaluate/{key}", "") or "")

    def choose_model(self) -> None:
        start = self.model_path or (str(self.tab.project.models_dir) if self.tab.project else "")
        path = dialogs.choose_open_file(self, "Choose the model file", start,
                                        "ONNX models (*.onnx);;All files (*)")
        if path:
            self.set_model(path)

    def choose_class_folders(self) -> None:
        path = dialogs.choose_directory(self, "Choose the folder of class folders",
                                        self._start_dir("data"))
        if path:
            self.tab.settings.set_choice("evaluate/data", str(Path(path).parent))
            self.set_data(path)

    def choose_manifest(self) -> None:
        path = dialogs.choose_open_file(self, "Choose the manifest (path,label[,patient])",
                                        self._start_dir("data"), "CSV files (*.csv)")
        if path:
            self.tab.settings.set_choice("evaluate/data", str(Path(path).parent))
            self.set_data(path)

    def choose_folder(self) -> None:
        folder = self.report_folder()
        path = dialogs.choose_directory(self, "Choose the folder for the report",
                                        str(folder.parent if folder else ""))
        if path:
            self.set_folder(path)

