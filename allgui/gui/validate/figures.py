"""The Validate tab's figures, drawn for the window: one confusion matrix at a
time, large enough to read, whose cells open the mistakes gallery; and the
ROC curves with their legend beside the curves, not over them."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from allgui.core.report.figures import draw_confusion, draw_roc, plain_text, roc_title
from allgui.gui.validate.mistakes import KINDS


class ConfusionView(QWidget):
    """A run chooser, its confusion matrix (rows: true class; columns:
    predicted), and the named selections of the gallery."""

    cell_clicked = Signal(object, str, str)  # run, true class, predicted class
    kind_requested = Signal(object, str)  # run, one of mistakes.KINDS

    def __init__(self) -> None:
        super().__init__()
        self.runs: list = []
        self.classes: tuple[str, ...] = ()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(QLabel("Run"))
        self.run_choice = QComboBox()
        self.run_choice.setToolTip("Each validation run has its own confusion matrix")
        self.run_choice.currentIndexChanged.connect(self._draw)
        top.addWidget(self.run_choice, 1)
        layout.addLayout(top)
        self.figure = Figure(figsize=(4.0, 3.4))
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumSize(200, 140)
        self.canvas.setToolTip("Click a cell to see its images")
        self.canvas.mpl_connect("button_press_event", self._clicked)
        layout.addWidget(self.canvas, 1)
        hint = QLabel("Click a cell to see its test images, or show:")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        row = QHBoxLayout()
        self.kind = QComboBox()
        for key, words in KINDS:
            self.kind.addItem(words, key)
        row.addWidget(self.kind, 1)
        self.show_button = QPushButton("Show images")
        self.show_button.setToolTip("Open the gallery of these test images, with the "
                                    "model's answer and heatmap for each")
        self.show_button.clicked.connect(
            lambda: self.run is not None and self.kind_requested.emit(self.run,
                                                                     self.kind.currentData()))
        row.addWidget(self.show_button)
        layout.addLayout(row)
        self.ax = None

    @property
    def run(self):
        i = self.run_choice.currentIndex()
        return self.runs[i] if 0 <= i < len(self.runs) else None

    def set_runs(self, runs: list, classes, test_set: str) -> None:
        """``runs``: the batch's RunRecords that have metrics."""
        self.runs = [r for r in runs if r.metrics is not None]
        self.classes = tuple(classes)
        self.test_set = plain_text(test_set)
        # cells a class's name wide and two lines tall, whatever the number of classes
        k = max(2, len(self.classes))
        self.canvas.setMinimumSize(max(200, 70 * k + 110), max(140, 44 * k + 120))
        self.run_choice.blockSignals(True)
        self.run_choice.clear()
        for r in self.runs:
            self.run_choice.addItem(f"{r.label} run {r.index} (seed {r.seed})")
        self.run_choice.blockSignals(False)
        self._draw()

    def _draw(self) -> None:
        self.figure.clear()
        run = self.run
        if run is None:
            self.canvas.draw_idle()
            return
        cm = np.asarray(run.metrics.confusion, dtype=float)
        k = len(self.classes)
        self.ax = self.figure.add_subplot(1, 1, 1)
        draw_confusion(self.ax, run.metrics.confusion, self.classes,
                       f"{run.label} run {run.index}: {int(cm.trace())} of {int(cm.sum())} right",
                       fontsize=9 if k <= 3 else 8 if k <= 6 else 7)
        self.figure.set_layout_engine("constrained")
        self.canvas.draw_idle()

    def cell_at(self, x: float, y: float) -> tuple[str, str] | None:
        """The (true, predicted) classes of the cell at data coordinates x, y."""
        c, r = int(round(x)), int(round(y))
        k = len(self.classes)
        if 0 <= r < k and 0 <= c < k:
            return self.classes[r], self.classes[c]
        return None

    def _clicked(self, event) -> None:
        if event.inaxes is not self.ax or self.ax is None or event.xdata is None:
            return
        cell = self.cell_at(event.xdata, event.ydata)
        if cell is not None and self.run is not None:
            self.cell_clicked.emit(self.run, *cell)


LEGEND_RUNS = 6  # runs named in the ROC's legend; more are summed up in its title


def roc_canvas(curves, positive: str, test_set: str, classes=("", "")) -> FigureCanvasQTAgg:
    """The report's ROC curves (:func:`draw_roc`), the legend inside the plot
    and short axis words, so that the plot takes the pane's width."""
    fig = Figure(figsize=(4.0, 3.4))
    ax = fig.add_subplot(1, 1, 1)
    named = len(curves) <= LEGEND_RUNS
    title = roc_title(curves, positive, classes)
    if not named:
        aucs = [c.auc for c in curves]
        title += f"\n{len(curves)} curves, AUC {min(aucs):.3f} to {max(aucs):.3f}"
    draw_roc(ax, curves, title, named=named)
    # The pane is narrow: a legend beside the plot left it a third of the width.
    # Inside, at the lower right, it covers only what a useful curve leaves empty.
    ax.legend(loc="lower right", fontsize=7, framealpha=0.85)
    ax.set_xlabel("False-positive rate", fontsize=8)
    ax.set_ylabel("True-positive rate", fontsize=8)
    ax.tick_params(labelsize=8)
    fig.set_layout_engine("constrained")
    canvas = FigureCanvasQTAgg(fig)
    canvas.setMinimumSize(200, 140)
    canvas.setToolTip(f"Test set: {plain_text(test_set)}")
    return canvas
