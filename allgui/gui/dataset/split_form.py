"""The Dataset tab's split box: the split form, Apply / Discard, what is not
applied yet, and the split's sizes and leakage audit. The project keeps the
applied split (through the session); the form only proposes one."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from allgui.core.project import SplitSettings
from allgui.gui.session import split_words
from allgui.gui.widgets.elided import ElidedCombo

SPLIT_METHODS = (
    ("patient", "By patient (recommended: no patient on both sides)"),
    ("cnmc-folds", "The dataset's own folds (C-NMC)"),
    ("image", "By image (the paper's protocol; leaky)"),
)


FIELDS = (("method", "split", split_words), ("seed", "seed", str),
          ("val_fraction", "validation fraction", lambda v: f"{v:g}"),
          ("test_fraction", "test fraction", lambda v: f"{v:g}"),
          ("use_official_test", "the dataset's own test set", lambda v: "on" if v else "off"))


def describe_split(s: SplitSettings) -> str:
    return (f"{split_words(s.method)}, seed {s.seed}, validation {s.val_fraction:g}, "
            f"test {s.test_fraction:g}" + (", the dataset's own test set" if s.use_official_test
                                          else ""))


class SplitForm(QGroupBox):
    """``edited`` whenever the form changes (the tab compares it with the applied split)."""

    edited = Signal()

    def __init__(self) -> None:
        super().__init__("Split and leakage audit")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.method = ElidedCombo()
        for key, words in SPLIT_METHODS:
            self.method.addItem(words, key)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.val_fraction = QDoubleSpinBox()
        self.val_fraction.setRange(0.05, 0.5)
        self.val_fraction.setSingleStep(0.05)
        self.test_fraction = QDoubleSpinBox()
        self.test_fraction.setRange(0.0, 0.5)
        self.test_fraction.setSingleStep(0.05)
        self.official_test = QCheckBox("Use the dataset's own test set when it has one")
        self.val_fraction.setToolTip("The share of the training patients (or images) kept "
                                     "for validation")
        self.test_fraction.setToolTip("The share kept for the test set, when the dataset has "
                                      "no test set of its own")
        form.addRow("Split", self.method)
        numbers = QHBoxLayout()  # one row: the window's smallest size keeps the audit in view
        for words, spin in (("Seed", self.seed), ("Validation", self.val_fraction),
                            ("Test", self.test_fraction)):
            if words != "Seed":
                numbers.addSpacing(8)
                numbers.addWidget(QLabel(words))
            numbers.addWidget(spin, 1)
        form.addRow("Seed", numbers)
        form.addRow("", self.official_test)
        layout.addLayout(form)
        self.leaky_warning = QLabel(
            "Image-level split: images of the same patient land on both sides, so the "
            "figures will be optimistic. Kept only to reproduce the paper."
        )
        self.leaky_warning.setWordWrap(True)
        self.leaky_warning.setStyleSheet("color: #b00020;")
        self.leaky_warning.setVisible(False)
        layout.addWidget(self.leaky_warning)
        self.unapplied_label = QLabel("")
        self.unapplied_label.setWordWrap(True)
        self.unapplied_label.setStyleSheet("color: #8a4b00; font-weight: bold;")
        self.unapplied_label.setVisible(False)
        layout.addWidget(self.unapplied_label)
        row = QHBoxLayout()
        self.apply_split_button = QPushButton("Apply split")
        self.discard_button = QPushButton("Discard changes")
        self.discard_button.setToolTip("Put the form back to the split the project uses")
        self.discard_button.setEnabled(False)
        row.addWidget(self.apply_split_button)
        row.addWidget(self.discard_button)
        layout.addLayout(row)
        self.audit_text = QPlainTextEdit()
        self.audit_text.setReadOnly(True)
        self.audit_text.setPlaceholderText("The split's sizes and its leakage audit appear here.")
        layout.addWidget(self.audit_text, 1)
        for signal in (self.method.currentIndexChanged, self.seed.valueChanged,
                       self.val_fraction.valueChanged, self.test_fraction.valueChanged,
                       self.official_test.toggled):
            signal.connect(self._changed)
        self.set_settings(SplitSettings())

    def _changed(self, *_args) -> None:
        self.leaky_warning.setVisible(self.method.currentData() == "image")
        self.edited.emit()

    def set_settings(self, s: SplitSettings) -> None:
        i = self.method.findData(s.method)
        self.method.setCurrentIndex(max(0, i))
        self.seed.setValue(s.seed)
        self.val_fraction.setValue(s.val_fraction)
        self.test_fraction.setValue(s.test_fraction)
        self.official_test.setChecked(s.use_official_test)
        self._changed()

    def settings(self) -> SplitSettings:
        return SplitSettings(
            method=self.method.currentData(),
            seed=self.seed.value(),
            val_fraction=round(self.val_fraction.value(), 4),
            test_fraction=round(self.test_fraction.value(), 4),
            use_official_test=self.official_test.isChecked(),
        )

    def show_unapplied(self, applied: SplitSettings | None) -> str:
        """Say whether the form differs from ``applied``; returns the words ('' if not)."""
        words = ""
        form = self.settings()
        if applied is not None and form != applied:
            changed = [(label, show(getattr(form, key)), show(getattr(applied, key)))
                       for key, label, show in FIELDS
                       if getattr(form, key) != getattr(applied, key)]
            words = "the split form shows " + ", ".join(
                f"{label} {now} (the project uses {used})" for label, now, used in changed)
        self.unapplied_label.setText(f"Not applied: {words}. Press Apply split, or Discard."
                                     if words else "")
        self.unapplied_label.setVisible(bool(words))
        self.discard_button.setEnabled(bool(words))
        return words
