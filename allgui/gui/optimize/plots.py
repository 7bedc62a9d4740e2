"""The Optimize tab's live plots, drawn from a :class:`TrialBook`:
the history (hover a point for its trial, click it to select the trial),
learning curves of several trials at once, the importances with their
evaluator named, parallel coordinates (:mod:`.parallel_view`), and the slice
and contour views (:mod:`.slice_contour`)."""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QTabWidget, QWidget

from allgui.core.model.params import format_value, label, ordered
from allgui.gui.optimize.parallel_view import ParallelView
from allgui.gui.optimize.trials_model import TrialBook
from allgui.gui.widgets.plots import LivePlot

BEST_CURVES = 3
CURVE_TRIALS = 2 + BEST_CURVES  # learning curves drawn at once: the running, the selected, the best
ROLE_WORDS = ("running", "selected", "best", "2nd best", "3rd best")
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9")
HOVER_PIXELS = 10
LEGEND_POINTS = 88  # the right margin that holds a legend beside the axes


def _few_ticks(ax) -> None:
    """Five or so whole-number ticks on x (trials, epochs) and five on y: tick
    labels are most of the cost of drawing a small figure."""
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5))


def trial_words(rec, objective: str) -> str:
    """What the history's hover box says about one trial."""
    lines = [f"trial {rec.number}: {objective} {rec.value:.4f}"]
    if rec.duration_s is not None:
        lines[0] += f", {rec.duration_s:.1f} s"
    lines += [f"{label(k)} = {format_value(k, rec.params[k])}" for k in ordered(rec.params)]
    return "\n".join(lines)


class OptimizePlots(ParallelView, QTabWidget):
    """History (+ best so far), learning curves, parameter importances, and
    a parallel-coordinate view."""

    trial_selected = Signal(int)  # a history point was clicked

    def __init__(self, book: TrialBook, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.book = book
        self.maximize = True
        self.objective_name = "objective"
        self.importances: dict[str, float] = {}  # the headline: fANOVA, mean over seeds
        self.importance_spread: dict[str, float] = {}  # its SD over seeds
        self.importance_ped: dict[str, float] = {}  # PED-ANOVA, drawn beside it
        self.importance_method = ""
        self.importance_note = ""  # why there are none, when they cannot be computed
        self.history = LivePlot(self)
        self.curves = LivePlot(self, nrows=1, ncols=2)
        self.importance = LivePlot(self, keep_zoom=False)
        self.parallel = LivePlot(self, keep_zoom=False)
        self._setup_parallel()
        self.setMinimumHeight(230)  # a plot stays readable when the window is small
        self.addTab(self.history, "History")
        self.addTab(self.curves, "Learning curves")
        self.addTab(self.importance, "Importance")
        self.addTab(self.parallel, "Parallel coordinates")
        from allgui.gui.optimize.slice_contour import ParamView

        self.slice = ParamView(self, two=False)
        self.contour = ParamView(self, two=True)
        self.addTab(self.slice, "Slice")
        self.addTab(self.contour, "Contour")
        self._history_artists()
        self._curve_artists()
        self.history.set_updater(self._update_history)
        self.curves.set_updater(self._update_curves)
        # drawn from scratch: built on the worker thread from what the book holds now
        self.importance.set_updater(self._update_importance, self._importance_data)
        self.parallel.set_updater(self._update_parallel, self._parallel_data)
        self._curve_trial: int | None = None
        self.curve_trials: list[int] = []
        self._hist_numbers: list[int] = []
        self._hist_values: list[float] = []

    @property
    def curve_trial(self) -> int | None:
        """The trial the user selected (table row or history point)."""
        return self._curve_trial

    @curve_trial.setter
    def curve_trial(self, number: int | None) -> None:
        self._curve_trial = number
        self.history.request_redraw()

    # -- artists, made once and updated in place (keeps the user's zoom) --------
    def _history_artists(self) -> None:
        ax = self.history.ax
        (self._points,) = ax.plot([], [], "o", color="#4c72b0", label="trial")
        (self._best,) = ax.plot([], [], "-", color="#dd8452", drawstyle="steps-post",
                                label="best so far")
        (self._best_point,) = ax.plot([], [], "*", ms=14, color="#dd8452", mec="black",
                                      label="best trial")
        (self._chosen,) = ax.plot([], [], "o", ms=13, mfc="none", mec="#d62728", mew=2,
                                  label="selected")
        for marker in (self._best_point, self._chosen):
            marker.set_clip_on(False)  # a best value at the top edge keeps its whole star
        ax.set_xlabel("trial")
        ax.set_ylabel("objective")
        # fixed margins: the title is animated, and a measured layout would leave it no
        # room; the legend beside the axes, where no point can hide under it
        self.history.set_margins(left=52, bottom=38, right=LEGEND_POINTS, top=24)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
                  borderaxespad=0.0, frameon=False)
        _few_ticks(ax)
        self._hover = ax.annotate("", (0, 0), xytext=(12, 12), textcoords="offset points",
                                  fontsize="small", visible=False, zorder=20,
                                  bbox={"boxstyle": "round", "fc": "#ffffe0", "alpha": 0.95})
        self.history.animate(self._points, self._best, self._best_point, self._chosen,
                             ax.title, self._hover)
        self.history.canvas.mpl_connect("motion_notify_event", self._hovered)
        self.history.canvas.mpl_connect("button_press_event", self._clicked)
        self.history.canvas.setToolTip("Point at a trial for its settings; click it to "
                                       "select it in the table and the learning curves")

    def _curve_artists(self) -> None:
        loss, score = self.curves.axes
        self._curve_lines = []
        for k in range(CURVE_TRIALS):
            colour = COLOURS[k % len(COLOURS)]
            dots = "-o" if k == 0 else "-"  # points for the running trial only: cheaper repaints
            (train,) = loss.plot([], [], "--", lw=1.2, color=colour)
            (val,) = loss.plot([], [], dots, ms=3, lw=1.6, color=colour)
            (obj,) = score.plot([], [], dots, ms=3, lw=1.6, color=colour)
            self._curve_lines.append((train, val, obj))
        loss.set_xlabel("epoch")
        loss.set_ylabel("loss")
        score.set_xlabel("epoch")
        score.set_ylabel("validation objective")
        # Outside the axes, where no curve can hide under them: the line styles
        # above the losses, which trial is which colour beside the scores.
        loss.legend(handles=[Line2D([], [], ls="--", color="grey", label="train"),
                             Line2D([], [], ls="-", marker="o", ms=3, color="grey",
                                    label="validation")], fontsize="small", ncol=2,
                    loc="lower left", bbox_to_anchor=(0.0, 1.0), borderaxespad=0.2,
                    frameon=False)
        self._legend_roles: tuple[int, ...] = ()
        self._score_legend(())
        for ax in (loss, score):
            _few_ticks(ax)
        self.curves.set_margins(left=48, bottom=38, right=LEGEND_POINTS, top=22, gap=52)
        self.curves.animate(*(a for lines in self._curve_lines for a in lines))
        self.curve_words = QLabel("No trial yet.")
        self.curve_words.setWordWrap(True)
        self.curves.layout().insertWidget(1, self.curve_words)
        # the importances' warnings (methods disagree, few trials), in words under the plot
        self.importance_words = QLabel("")
        self.importance_words.setTextFormat(Qt.TextFormat.PlainText)
        self.importance_words.setWordWrap(True)
        self.importance.layout().insertWidget(1, self.importance_words)

    def _score_legend(self, shown: tuple[int, ...]) -> None:
        """Which trial is which colour, for the slots that hold a trial only (an
        entry without a line says nothing); rebuilt only when that set changes."""
        score = self.curves.axes[1]
        old = score.get_legend()
        if old is not None:
            old.remove()
        if shown:
            score.legend(handles=[Line2D([], [], color=self._curve_lines[k][2].get_color(),
                                         label=ROLE_WORDS[k]) for k in shown],
                         fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0),
                         borderaxespad=0.0, frameon=False)
        self._legend_roles = shown

    def legend_words(self) -> list[str]:
        """The learning curves' colour legend as drawn."""
        legend = self.curves.axes[1].get_legend()
        return [t.get_text() for t in legend.get_texts()] if legend is not None else []

    def reset(self) -> None:
        self.importances = {}
        self.importance_spread, self.importance_ped = {}, {}
        self.importance_note = ""
        self.importance_words.setText("")
        self._curve_trial = None
        for line in (self._points, self._best, self._best_point, self._chosen,
                     *(a for lines in self._curve_lines for a in lines)):
            line.set_data([], [])
        self._hover.set_visible(False)
        for plot in (self.history, self.curves, self.importance, self.parallel):
            plot.forget_readout()  # nothing read off another study or project stays
        for plot in (self.history, self.curves):
            plot._auto_limits.clear()
        self._parallel_view = None
        self.parallel_ranges = {}
        self.refresh()

    def prepare(self, trials: int, epochs: int, now: bool = True) -> None:
        """Set the axes from what is known before a search starts, and draw them
        (``now``, or at the next throttled redraw) while the computer is idle:
        epochs 1..N, trial numbers up to the study's size, objectives in 0..1, a
        loss that starts near ln 2. While the data stay inside (they usually
        do), each update repaints only the lines, a few milliseconds, instead of
        redrawing whole figures while the search competes for the processor.
        Axes still grow when needed, and "Fit" zooms on the data. Axes already
        set so cost nothing more; full draws are the worker thread's."""
        last = max(self.book.trials, default=-1)
        # Room for the paper's 20 trials; a longer study's axis grows as it goes,
        # so that its first trials are not squeezed against the left edge.
        shown = max(min(trials, 20), last + 2)
        self.history.set_view(0, xlim=(-0.5, shown - 0.5))
        self.curves.set_view(0, xlim=(0.5, epochs + 0.5), ylim=(0.0, 1.0))
        self.curves.set_view(1, xlim=(0.5, epochs + 0.5), ylim=(-0.02, 1.02))
        for plot in (self.history, self.curves):
            plot.redraw() if now else plot.request_redraw()

    def set_objective(self, name: str, maximize: bool = True) -> None:
        self.objective_name, self.maximize = name, maximize
        self.history.ax.set_ylabel(name)
        self.curves.axes[1].set_ylabel(f"validation {name}")

    def refresh(self) -> None:
        for plot in (self.history, self.curves, self.importance, self.parallel,
                     self.slice.plot, self.contour.plot):
            plot.request_redraw()

    # -- the history: hover and click ---------------------------------------------
    def _nearest(self, event) -> int | None:
        """The index of the history point within HOVER_PIXELS of the mouse."""
        if event.inaxes is not self.history.ax or not self._hist_numbers:
            return None
        pts = self.history.ax.transData.transform(
            np.column_stack([self._hist_numbers, self._hist_values]))
        d = np.hypot(pts[:, 0] - event.x, pts[:, 1] - event.y)
        i = int(np.argmin(d))
        return i if d[i] <= HOVER_PIXELS * self.history.canvas.device_pixel_ratio else None

    def hover_at(self, index: int | None) -> None:
        if index is None:
            if not self._hover.get_visible():
                return
            self._hover.set_visible(False)
        else:
            rec = self.book.trials[self._hist_numbers[index]]
            self._hover.xy = (self._hist_numbers[index], self._hist_values[index])
            # the box opens towards the middle of the plot, so it is never cut at an edge
            ax = self.history.ax
            fx, fy = ax.transAxes.inverted().transform(ax.transData.transform(self._hover.xy))
            self._hover.set_position((-12 if fx > 0.5 else 12, -12 if fy > 0.5 else 12))
            self._hover.set_horizontalalignment("right" if fx > 0.5 else "left")
            self._hover.set_verticalalignment("top" if fy > 0.5 else "bottom")
            self._hover.set_text(trial_words(rec, self.objective_name))
            self._hover.set_visible(True)
        if not self.history._blit():  # repaint the box alone when the axes are cached
            self.history.request_redraw()

    def _hovered(self, event) -> None:
        self.hover_at(self._nearest(event))

    def _clicked(self, event) -> None:
        toolbar = getattr(self.history, "toolbar", None)
        if toolbar is not None and toolbar.mode:  # zooming or panning, not choosing
            return
        i = self._nearest(event)
        if i is not None:
            self.curve_trial = self._hist_numbers[i]
            self.trial_selected.emit(self._hist_numbers[i])
            self.curves.request_redraw()

    # -- updaters (GUI thread, at most once per redraw interval) ------------------
    def _update_history(self) -> None:
        numbers, values, best = self.book.history(self.maximize)
        self._hist_numbers, self._hist_values = numbers, values
        self._points.set_data(numbers, values)
        self._best.set_data(numbers, best)
        if values:
            i = int(np.argmax(values) if self.maximize else np.argmin(values))
            self._best_point.set_data([numbers[i]], [values[i]])
        chosen = self._curve_trial
        if chosen in numbers:
            self._chosen.set_data([chosen], [values[numbers.index(chosen)]])
        else:
            self._chosen.set_data([], [])
        self.history.ax.set_title(
            f"{len(numbers)} complete trial{'s' if len(numbers) != 1 else ''}"
            + (f", best {best[-1]:.4f}" if best else ""), fontsize="medium")

    def curve_roles(self) -> list[int | None]:
        """The trial of each curve slot: running, selected, then the best ones
        (None where there is none). Slots keep their colour and legend entry,
        so the legend never changes mid-search and costs no redraw."""
        ranked = sorted(self.book.complete(), key=lambda t: t.value, reverse=self.maximize)
        running = self.book.running
        now = self.book.trials.get(running) if running is not None else None
        if now is None or not now.curve or now.state != "running":
            # between trials or after a stopped one: the latest trial with epochs
            with_curves = [n for n, t in self.book.trials.items() if t.curve and t.state != "complete"]
            running = with_curves[-1] if with_curves else None
        best = [t.number for t in ranked[:BEST_CURVES]]
        return [running, self._curve_trial] + best + [None] * (BEST_CURVES - len(best))

    def shown_curve_trials(self) -> list[int]:
        out: list[int] = []
        for n in self.curve_roles():
            if n is not None and n not in out:
                out.append(n)
        return out

    def _update_curves(self) -> None:
        roles = self.curve_roles()
        self.curve_trials = self.shown_curve_trials()
        for number, lines in zip(roles, self._curve_lines, strict=True):
            rec = self.book.trials.get(number) if number is not None else None
            curve = rec.curve if rec is not None else []
            epochs = [e.epoch for e in curve]
            for line, name in zip(lines, ("train_loss", "val_loss", "objective"), strict=True):
                line.set_data(epochs, [getattr(e, name) for e in curve])
        shown = tuple(k for k, n in enumerate(roles) if n is not None
                      and (rec := self.book.trials.get(n)) is not None and rec.curve)
        if shown != self._legend_roles:
            self._score_legend(shown)
            self.curves.mark_stale()
        words = [f"{role} {n}" for role, n in zip(ROLE_WORDS, roles, strict=True) if n is not None]
        # which trial is which, in a Qt label: text drawn by matplotlib at every repaint costs
        # more than all the lines together
        text = ("Trials shown: " + ", ".join(words) + ".") if words else "No trial yet."
        if self.curve_words.text() != text:
            self.curve_words.setText(text)

    def _importance_data(self) -> tuple:
        return (dict(self.importances), self.importance_method, self.importance_note,
                len(self.book.complete()), dict(self.importance_spread),
                dict(self.importance_ped))

    def _update_importance(self, data: tuple | None = None) -> None:
        importances, method, note, n, spread, ped = (
            data if data is not None else self._importance_data())
        ax = self.importance.ax
        ax.clear()
        self.importance.apply_palette()
        if not importances:
            waiting = ("Importances appear once a few trials are complete." if n < 3
                       else f"Importances of {n} complete trials: computing…")
            ax.text(0.5, 0.5, note or waiting, wrap=True,
                    ha="center", va="center", transform=ax.transAxes, fontsize="small")
            ax.set_xticks([])
            ax.set_yticks([])
            return
        names = sorted(importances, key=lambda k: importances[k])
        items = [label(k) for k in names]
        # Margins from the names' lengths (a character of a 10-point label is
        # about 7 points wide): a layout that measures each label would cost as
        # much as the draw, at every new set of importances.
        longest = max(len(k) for k in items)
        self.importance.set_margins(left=18 + 7 * longest, bottom=34, right=12, top=32)
        y = np.arange(len(names), dtype=float)
        # PED-ANOVA beside the headline when there is one: two bars per parameter
        height, shift = (0.4, 0.2) if ped else (0.8, 0.0)
        bars = ax.barh(y + shift, [importances[k] for k in names], height=height,
                       xerr=[spread.get(k, 0.0) for k in names] if spread else None,
                       color="#4c72b0", label=method.split(",")[0] or "importance")
        ax.bar_label(bars, fmt="%.2f", fontsize="small", padding=2)
        top = max(importances.values())
        if ped:
            other = ax.barh(y - shift, [ped.get(k, 0.0) for k in names], height=height,
                            color="#dd8452", label="PED-ANOVA")
            ax.bar_label(other, fmt="%.2f", fontsize="small", padding=2)
            top = max(top, max(ped.values()))
            ax.legend(fontsize="small", loc="lower right")
        ax.set_yticks(y, items)
        ax.set_xlim(0, top * 1.25 or 1)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
        ax.set_xlabel("share of the objective's variation")
        ax.set_title(f"Importance by {method or 'the evaluator'}\n"  # two lines: a long name fits
                     f"{n} complete trial{'s' if n != 1 else ''}", fontsize="small")
