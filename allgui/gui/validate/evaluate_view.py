"""The result of "Evaluate on other data", drawn: every figure with its 95%
interval and what the interval resampled, the per-class and per-patient
figures, the calibration (ECE and the reliability diagram) and the files
left out with their reasons. Every name shown (files, classes, patients)
comes from the user's data or the model file, so it is shown as plain text,
never read as markup."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from allgui.core.files.text import count, terminal_text
from allgui.gui.validate.evaluate_work import (
    UNIT_WORDS,
    Evaluation,
    interval_note,
    skipped_lines,
)
from allgui.gui.widgets.text import plain_tooltip

FIGURE_COLUMNS = ("Figure", "Value", "95% interval", "Interval over")
CLASS_COLUMNS = ("Class", "Images", "Sensitivity (recall)", "Specificity", "Precision", "F1")
CLASS_KEYS = ("recall", "specificity", "precision", "f1")
PATIENT_COLUMNS = ("Patient", "Class", "Images", "Correct", "Accuracy")
MAX_TIP_LINES = 20


def plain_tip(text: str) -> str:
    """A tooltip that shows ``text`` as it is, whatever it looks like."""
    return plain_tooltip(terminal_text(text))


def _table(columns: tuple[str, ...]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectRows)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.verticalHeader().setVisible(False)
    return table


def _fill(table: QTableWidget, rows: list[list[str]], numbers: range) -> None:
    """``rows`` in ``table``; the columns in ``numbers`` aligned right."""
    table.setSortingEnabled(False)
    table.setRowCount(len(rows))
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)  # a table item's text is never markup
            if c in numbers:
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            table.setItem(r, c, item)


def figure_table_rows(ev: Evaluation) -> list[list[str]]:
    """The figures table as text: exactly the engine's figures, formatted as
    its report formats them."""
    from allgui.core.validation.external import figure_rows
    from allgui.core.validation.stats import format_interval, format_value

    unit = UNIT_WORDS.get(ev.result.interval_unit, ev.result.interval_unit)
    rows = []
    for row in figure_rows(ev.result):
        if row.of_class is not None:
            continue
        interval = format_interval(row.low, row.high)
        rows.append([terminal_text(row.label), format_value(row.value), interval,
                     unit if interval != "n/a" else "none"])
    return rows


def class_table_rows(ev: Evaluation) -> list[list[str]]:
    from allgui.core.report.external import with_interval
    from allgui.core.validation.external import figure_rows

    by_key = {r.key: r for r in figure_rows(ev.result)}
    return [[terminal_text(c.name), str(c.support)]
            + [with_interval(by_key.get(f"{k}[{c.name}]")) for k in CLASS_KEYS]
            for c in ev.result.metrics.per_class]


def patient_table_rows(ev: Evaluation) -> list[list[str]]:
    from allgui.core.validation.stats import format_value

    return [[terminal_text(p.patient), terminal_text(p.label), str(p.images), str(p.correct),
             format_value(p.accuracy)] for p in ev.result.metrics.patients]


class EvaluationView(QTabWidget):
    """The pages of one evaluation's result; empty until :meth:`show_evaluation`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.figures = _table(FIGURE_COLUMNS)
        self.figures.horizontalHeaderItem(3).setToolTip(
            "What the bootstrap resampled: whole patients when every image names its "
            "patient, else images within each class")
        self.figures_note = self._label()
        self.addTab(self._page(self.figures, self.figures_note), "Figures")
        self.classes = _table(CLASS_COLUMNS)
        self.classes_note = self._label()
        self.addTab(self._page(self.classes, self.classes_note), "Per class")
        self.patients = _table(PATIENT_COLUMNS)
        self.patients_note = self._label()
        self.addTab(self._page(self.patients, self.patients_note), "Per patient")
        self.calibration = self._label()
        self._calibration_page = QWidget()
        self._calibration_layout = QVBoxLayout(self._calibration_page)
        self._calibration_layout.addWidget(self.calibration)
        self.reliability = None  # the canvas, once there is a result
        self.addTab(self._calibration_page, "Calibration")
        self.skipped = QPlainTextEdit()
        self.skipped.setReadOnly(True)
        self.skipped.setPlaceholderText("Every labelled file was used.")
        self.skipped_note = self._label()
        self._skipped_page = self._page(self.skipped, self.skipped_note)
        self.addTab(self._skipped_page, "Left out")

    @staticmethod
    def _label() -> QLabel:
        label = QLabel("")
        label.setTextFormat(Qt.PlainText)  # names from the data are never markup
        label.setWordWrap(True)
        return label

    @staticmethod
    def _page(*widgets: QWidget) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        for w in widgets:
            layout.addWidget(w, 1 if not isinstance(w, QLabel) else 0)
        return page

    def show_evaluation(self, ev: Evaluation) -> None:
        r = ev.result
        _fill(self.figures, figure_table_rows(ev), range(1, 3))
        self.figures_note.setText(interval_note(r.interval_unit) + " 'none': no interval can "
                                  "be given for that figure.")
        _fill(self.classes, class_table_rows(ev), range(1, 6))
        self.classes_note.setText("Each class against all the others, with its 95% interval "
                                  f"in brackets ({UNIT_WORDS.get(r.interval_unit, '')}). "
                                  f"Positive class: {terminal_text(r.positive_class or '')}.")
        _fill(self.patients, patient_table_rows(ev), range(2, 5))
        self.patients_note.setText(
            "No patient IDs are known for these images: every figure is per image."
            if not r.metrics.patients else
            f"{count(len(r.metrics.patients), 'patient')}; mean accuracy over patients "
            f"{r.metrics.patient_accuracy:.4f} (each patient counts once).")
        self._show_calibration(ev)
        lines = skipped_lines(r.skipped)
        self.skipped.setPlainText("\n".join(lines))
        self.skipped_note.setText(f"{count(len(lines), 'file')} left out, each with the reason."
                                  if lines else "No file was left out.")
        self.setTabText(self.indexOf(self._skipped_page), f"Left out ({len(lines)})")

    def _show_calibration(self, ev: Evaluation) -> None:
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg

        from allgui.core.report.external import reliability_picture

        r = ev.result
        if self.reliability is not None:
            self._calibration_layout.removeWidget(self.reliability)
            self.reliability.deleteLater()
            self.reliability = None
        if r.calibration is None:
            self.calibration.setText("No calibration: no image was scored.")
            return
        self.calibration.setText(
            f"Expected calibration error (ECE, 15 bins): {r.calibration.ece:.4f}. 0 means the "
            "probabilities the classifier reports match how often it is right; the dashed "
            f"line is perfect calibration. Temperature stored in the model: "
            f"{r.temperature:.3f}.")
        self.reliability = FigureCanvasQTAgg(reliability_picture(r.calibration))
        self.reliability.setMinimumSize(240, 200)
        self.reliability.setToolTip("Each point: the images whose top probability fell in one "
                                    "bin, their mean probability against their accuracy")
        self._calibration_layout.addWidget(self.reliability, 1)

    def skipped_tip(self, ev: Evaluation) -> str:
        """The files left out, for a hover (the first few; all under 'Left out')."""
        lines = skipped_lines(ev.result.skipped)
        more = len(lines) - MAX_TIP_LINES
        return plain_tip("\n".join(lines[:MAX_TIP_LINES])
                         + (f"\n… and {more} more (see 'Left out')" if more > 0 else ""))
