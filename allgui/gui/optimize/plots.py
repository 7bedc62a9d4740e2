"""The Optimize tab's four live plots, drawn from a :class:`TrialBook`."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
from matplotlib.ticker import MaxNLocator
from PySide6.QtWidgets import QTabWidget, QWidget

from allgui.core.model.params import label
from allgui.gui.optimize.trials_model import TrialBook
from allgui.gui.widgets.plots import LivePlot


def _few_ticks(ax) -> None:
    """Five or so whole-number ticks on x (trials, epochs) and five on y: tick
    labels are most of the cost of drawing a small figure."""
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5))


class OptimizePlots(QTabWidget):
    """History (+ best so far), learning curves of the running trial,
    parameter importances, and a parallel-coordinate view."""

    def __init__(self, book: TrialBook, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.book = book
        self.maximize = True
        self.objective_name = "objective"
        self.importances: dict[str, float] = {}
        self.importance_method = ""
        self.importance_note = ""  # why there are none, when they cannot be computed
        self.history = LivePlot(self)
        self.curves = LivePlot(self, nrows=1, ncols=2)
        self.importance = LivePlot(self, keep_zoom=False)
        self.parallel = LivePlot(self, keep_zoom=False)
        self.addTab(self.history, "History")
        self.addTab(self.curves, "Learning curves")
        self.addTab(self.importance, "Importance")
        self.addTab(self.parallel, "Parallel coordinates")
        self._history_artists()
        self._curve_artists()
        self.history.set_updater(self._update_history)
        self.curves.set_updater(self._update_curves)
        self.importance.set_updater(self._update_importance)
        self.parallel.set_updater(self._update_parallel)
        self.curve_trial: int | None = None

    # -- artists, made once and updated in place (keeps the user's zoom) --------
    def _history_artists(self) -> None:
        ax = self.history.ax
        (self._points,) = ax.plot([], [], "o", color="#4c72b0", label="trial")
        (self._best,) = ax.plot([], [], "-", color="#dd8452", drawstyle="steps-post",
                                label="best so far")
        ax.set_xlabel("trial")
        ax.set_ylabel("objective")
        ax.legend(loc="lower right", fontsize="small")
        _few_ticks(ax)
        self.history.animate(self._points, self._best, ax.title)

    def _curve_artists(self) -> None:
        loss, score = self.curves.axes
        (self._train_loss,) = loss.plot([], [], "-o", ms=3, label="train")
        (self._val_loss,) = loss.plot([], [], "-o", ms=3, label="validation")
        loss.set_xlabel("epoch")
        loss.set_ylabel("loss")
        loss.legend(fontsize="small")
        (self._val_obj,) = score.plot([], [], "-o", ms=3, color="#55a868", label="validation")
        score.set_xlabel("epoch")
        score.set_ylabel("validation objective")  # one line: its label says what it is
        for ax in (loss, score):
            _few_ticks(ax)
        self.curves.animate(self._train_loss, self._val_loss, self._val_obj, loss.title,
                            score.title)

    def reset(self) -> None:
        self.importances = {}
        self.importance_note = ""
        self.curve_trial = None
        for line in (self._points, self._best, self._train_loss, self._val_loss, self._val_obj):
            line.set_data([], [])
        for plot in (self.history, self.curves):
            plot._auto_limits.clear()
        self.refresh()

    def prepare(self, trials: int, epochs: int, now: bool = True) -> None:
        """Set the axes from what is known before a search starts, and draw them
        (``now``, or at the next throttled redraw) while the computer is idle:
        epochs 1..N, trial numbers up to the study's size, objectives in 0..1, a
        loss that starts near ln 2. While the data stay inside (they usually
        do), each update repaints only the lines, a few milliseconds, instead of
        redrawing whole figures while the search competes for the processor.
        Axes still grow when needed, and "Fit" zooms on the data. Axes already
        set so cost nothing more."""
        last = max(self.book.trials, default=-1)
        # Room for the paper's 20 trials; a longer study's axis grows as it goes,
        # so that its first trials are not squeezed against the left edge.
        shown = max(min(trials, 20), last + 2)
        self.history.set_view(0, xlim=(-0.5, shown - 0.5))
        self.curves.set_view(0, xlim=(0.5, epochs + 0.5), ylim=(0.0, 1.0))
        self.curves.set_view(1, xlim=(0.5, epochs + 0.5), ylim=(-0.02, 1.02))
        for plot in (self.history, self.curves):
            plot.redraw_now() if now else plot.request_redraw()

    def set_objective(self, name: str, maximize: bool = True) -> None:
        self.objective_name, self.maximize = name, maximize
        self.history.ax.set_ylabel(name)
        self.curves.axes[1].set_ylabel(f"validation {name}")

    def refresh(self) -> None:
        for plot in (self.history, self.curves, self.importance, self.parallel):
            plot.request_redraw()

    # -- updaters (GUI thread, at most once per redraw interval) ------------------
    def _update_history(self) -> None:
        numbers, values, best = self.book.history(self.maximize)
        self._points.set_data(numbers, values)
        self._best.set_data(numbers, best)
        self.history.ax.set_title(
            f"{len(numbers)} complete trials" + (f", best {best[-1]:.4f}" if best else ""),
            fontsize="medium")

    def _update_curves(self) -> None:
        number = self.book.running if self.curve_trial is None else self.curve_trial
        rec = self.book.trials.get(number) if number is not None else None
        if self.curve_trial is None and (rec is None or not rec.curve):
            # Between trials, or after a stopped one: the latest trial with epochs.
            with_curves = [n for n, t in self.book.trials.items() if t.curve]
            number = max(with_curves) if with_curves else number
            rec = self.book.trials.get(number) if number is not None else None
        curve = rec.curve if rec is not None else []
        epochs = [e.epoch for e in curve]
        self._train_loss.set_data(epochs, [e.train_loss for e in curve])
        self._val_loss.set_data(epochs, [e.val_loss for e in curve])
        self._val_obj.set_data(epochs, [e.objective for e in curve])
        title = f"trial {number}" if number is not None else "no trial yet"
        self.curves.axes[0].set_title(title + ": loss", fontsize="medium")
        self.curves.axes[1].set_title(title + ": " + self.objective_name, fontsize="medium")

    def _update_importance(self) -> None:
        ax = self.importance.ax
        ax.clear()
        self.importance.apply_palette()
        if not self.importances:
            ax.text(0.5, 0.5, self.importance_note or
                    "Importances appear once a few trials are complete.", wrap=True,
                    ha="center", va="center", transform=ax.transAxes, fontsize="small")
            ax.set_xticks([])
            ax.set_yticks([])
            return
        items = sorted(((label(k), v) for k, v in self.importances.items()),
                       key=lambda kv: kv[1])
        # Margins from the names' lengths (a character of a 10-point label is
        # about 6 points wide): a layout that measures each label would cost as
        # much as the draw, at every new set of importances.
        longest = max(len(k) for k, _ in items)
        self.importance.set_margins(left=14 + 6 * longest, bottom=34, right=12, top=10)
        ax.barh([k for k, _ in items], [v for _, v in items], color="#4c72b0")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
        ax.set_xlabel("importance" + (f" ({self.importance_method})"
                                      if self.importance_method else ""))

    def _update_parallel(self) -> None:
        ax = self.parallel.ax
        ax.clear()
        self.parallel.apply_palette()
        trials = self.book.complete()
        names = [n for n in self.book.param_names()
                 if all(isinstance(t.params.get(n), (int, float, str)) for t in trials)]
        if len(trials) < 2 or not names:
            ax.text(0.5, 0.5, "The parallel-coordinate view appears after two complete trials.",
                    ha="center", va="center", transform=ax.transAxes, fontsize="small")
            ax.set_xticks([])
            ax.set_yticks([])
            return
        labels = (*(label(n) for n in names), self.objective_name)
        # Labels turned by 20 degrees: their height below the axis grows with their length.
        self.parallel.set_margins(left=36, bottom=16 + 2.2 * max(len(n) for n in labels),
                                  right=14 + 1.5 * len(labels[-1]), top=22)
        columns = [_normalise([t.params.get(n) for t in trials]) for n in names]
        values = np.array([t.value for t in trials], dtype=float)
        columns.append(_normalise(list(values)))
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
        span = hi - lo or 1.0
        cmap = matplotlib.colormaps["viridis"]
        xs = list(range(len(columns)))
        for i, v in enumerate(values):
            ax.plot(xs, [c[i] for c in columns], color=cmap((v - lo) / span), alpha=0.8, lw=1.2)
        ax.set_xticks(xs)
        ax.set_xticklabels(labels, rotation=20, fontsize="small")
        ax.set_yticks([0, 1])
        ax.set_yticklabels(["low", "high"])
        ax.set_title("each line is a trial; colour = objective (yellow best)", fontsize="small")


def _normalise(values: list) -> list[float]:
    """Map a parameter's values to 0..1 (log scale for wide positive ranges,
    category order for choices)."""
    if any(isinstance(v, str) for v in values):
        cats = sorted({str(v) for v in values})
        return [cats.index(str(v)) / max(1, len(cats) - 1) for v in values]
    nums = [float(v) if v is not None else math.nan for v in values]
    arr = np.array(nums, dtype=float)
    if np.all(arr[~np.isnan(arr)] > 0) and np.nanmax(arr) / max(np.nanmin(arr), 1e-300) > 50:
        arr = np.log10(arr)
    lo, hi = np.nanmin(arr), np.nanmax(arr)
    if hi == lo:
        return [0.5] * len(values)
    return list((arr - lo) / (hi - lo))
