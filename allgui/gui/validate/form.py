"""The Validate tab's form: the configuration, the baseline, the runs and
epochs, and the buttons; the choices kept between sessions (the baseline per
project), and the batch's settings read off the form."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from allgui.core.errors import AllguiError
from allgui.core.project import Project

BASELINES = (("none", "No baseline"), ("default", "allgui's untuned defaults"),
             ("entered", "Entered below"))


class ValidationForm:
    """Mixed into the Validate tab (which has ``settings``, ``project``,
    ``start``, ``stop`` and ``_show_resume``)."""

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
