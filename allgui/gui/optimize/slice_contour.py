"""Two more views of a study, as optuna-dashboard has them, drawn like the
tab's other plots (matplotlib, off the GUI thread):

- a slice: the objective against one parameter, each trial a point coloured
  by its number (later trials darker), the best ringed;
- a contour: the objective over two parameters, filled where three or more
  trials span an area, the trials as points.

Log-scale parameters on log axes, parameters chosen from a list as
categories, as the parallel view shows them."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from allgui.core.model.params import BY_NAME, label
from allgui.gui.optimize.parallel import columns_of
from allgui.gui.widgets.plots import LivePlot

CMAP = "viridis"
MIN_CHARS = 14  # characters a parameter's box shows at the least, before its names come


def _values(trials, name: str) -> tuple[np.ndarray, list[str]]:
    """The trials' values of ``name`` as numbers, and the categories when it has words."""
    raw = [t.params.get(name) for t in trials]
    if any(isinstance(v, str) for v in raw):
        categories = sorted({str(v) for v in raw})
        return np.array([categories.index(str(v)) for v in raw], dtype=float), categories
    return np.array([math.nan if v is None else float(v) for v in raw], dtype=float), []


def _axis(ax, which: str, name: str, categories: list[str]) -> None:
    set_scale, set_label = ((ax.set_xscale, ax.set_xlabel) if which == "x"
                            else (ax.set_yscale, ax.set_ylabel))
    spec = BY_NAME.get(name)
    if categories:
        ticks = ax.set_xticks if which == "x" else ax.set_yticks
        ticks(range(len(categories)), categories)
    elif spec is not None and spec.log:
        set_scale("log")
    set_label(label(name))


def _empty(ax, words: str) -> None:
    ax.text(0.5, 0.5, words, ha="center", va="center", transform=ax.transAxes,
            fontsize="small", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def draw_slice(ax, trials, name: str, objective: str, maximize: bool) -> int:
    """The objective against parameter ``name``; returns the points drawn."""
    if not trials or not name:
        _empty(ax, "The slice view appears once a trial is complete.")
        return 0
    xs, categories = _values(trials, name)
    ys = np.array([t.value for t in trials], dtype=float)
    order = np.array([t.number for t in trials], dtype=float)
    ax.scatter(xs, ys, c=order, cmap=CMAP, s=28, edgecolors="black", linewidths=0.4, zorder=3)
    _axis(ax, "x", name, categories)
    ax.set_ylabel(objective)
    finite = ys[np.isfinite(ys)]
    if finite.size and np.ptp(finite) == 0:  # every trial the same value: none is best
        ax.set_title(f"{objective} against {label(name)}: all {len(trials)} complete trials "
                     f"have the same value ({finite[0]:.4f}; colour: trial number)",
                     fontsize="small")
        return len(trials)
    best = int(np.nanargmax(ys) if maximize else np.nanargmin(ys))
    ax.scatter([xs[best]], [ys[best]], s=140, facecolors="none", edgecolors="#d62728",
               linewidths=1.8, zorder=4, label=f"best: trial {trials[best].number}")
    ax.set_title(f"{objective} against {label(name)}: {len(trials)} complete trials "
                 "(colour: trial number)", fontsize="small")
    ax.legend(loc="best", fontsize="small", frameon=False)
    return len(trials)


def draw_contour(ax, trials, x: str, y: str, objective: str) -> int:
    """The objective over parameters ``x`` and ``y``; returns the points drawn."""
    if len(trials) < 2 or not x or not y or x == y:
        _empty(ax, "The contour view appears after two complete trials; choose two "
                   "different parameters.")
        return 0
    xs, xcat = _values(trials, x)
    ys, ycat = _values(trials, y)
    zs = np.array([t.value for t in trials], dtype=float)
    ok = np.isfinite(xs) & np.isfinite(ys) & np.isfinite(zs)
    xs, ys, zs = xs[ok], ys[ok], zs[ok]
    logx = bool(not xcat and BY_NAME.get(x) is not None and BY_NAME[x].log and (xs > 0).all())
    logy = bool(not ycat and BY_NAME.get(y) is not None and BY_NAME[y].log and (ys > 0).all())
    px, py = (np.log10(xs) if logx else xs), (np.log10(ys) if logy else ys)
    filled = None
    if len(np.unique(np.column_stack([px, py]), axis=0)) >= 3 and np.ptp(px) and np.ptp(py):
        import matplotlib.tri as mtri

        try:
            triangles = mtri.Triangulation(px, py)
            filled = ax.tricontourf(triangles, zs, levels=12, cmap=CMAP, alpha=0.85)
        except (ValueError, RuntimeError):  # points on one line: no area to fill
            filled = None
    points = ax.scatter(px, py, c=zs, cmap=CMAP, s=26, edgecolors="black", linewidths=0.5,
                        zorder=3)
    # the filled area ends at the outermost trials: room around it, so their points are whole
    for values, set_limits in ((px, ax.set_xlim), (py, ax.set_ylim)):
        if values.size:
            pad = 0.06 * (float(np.ptp(values)) or 1.0)
            set_limits(float(values.min()) - pad, float(values.max()) + pad)
    if logx:
        ax.set_xlabel(f"{label(x)} (log10)")
    else:
        _axis(ax, "x", x, xcat)
    if logy:
        ax.set_ylabel(f"{label(y)} (log10)")
    else:
        _axis(ax, "y", y, ycat)
    ax.set_title(f"{objective} over {label(x)} and {label(y)}"
                 + ("" if filled is not None else " (too few trials to fill)"), fontsize="small")
    return int(points.get_offsets().shape[0])


class ParamView(QWidget):
    """A plot of the study over one or two parameters the user chooses."""

    def __init__(self, plots, two: bool) -> None:
        super().__init__()
        self.plots = plots
        self.two = two
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.x = QComboBox()
        self.y = QComboBox()
        for box in (self.x, self.y):
            # as wide as the longest parameter's name ("weight decay", "label smoothing")
            box.setSizeAdjustPolicy(QComboBox.AdjustToContents)
            box.setMinimumContentsLength(MIN_CHARS)
        row.addWidget(QLabel("Parameter" if not two else "Across"))
        row.addWidget(self.x)
        if two:
            row.addWidget(QLabel("and"))
            row.addWidget(self.y)
        row.addStretch(1)
        layout.addLayout(row)
        self.plot = LivePlot(self, keep_zoom=False)
        self.plot.set_margins(left=60, bottom=44, right=16, top=28)
        layout.addWidget(self.plot, 1)
        self.plot.set_updater(self._draw, self._data)
        for box in (self.x, self.y):
            box.currentIndexChanged.connect(self.plot.request_redraw)
        self.drawn = 0

    def _fill(self, names: list[str]) -> None:
        """The parameters to choose from, keeping the choice."""
        if [self.x.itemData(i) for i in range(self.x.count())] == names:
            return
        for k, box in enumerate((self.x, self.y)):
            chosen = box.currentData()
            was = box.blockSignals(True)
            box.clear()
            for n in names:
                box.addItem(label(n), n)
            i = box.findData(chosen)
            box.setCurrentIndex(i if i >= 0 else min(k, len(names) - 1))
            box.blockSignals(was)

    def _data(self) -> tuple:
        """What to draw, taken on the GUI thread (the worker draws it)."""
        trials = self.plots.book.complete()
        self._fill(columns_of(trials, self.plots.book.param_names()) if trials else [])
        return (trials, self.x.currentData() or "", self.y.currentData() or "",
                self.plots.objective_name, self.plots.maximize)

    def _draw(self, data: tuple) -> None:
        trials, x, y, objective, maximize = data
        ax = self.plot.ax
        ax.clear()
        ax.set_xscale("linear")
        ax.set_yscale("linear")
        self.plot.apply_palette()
        self.drawn = (draw_contour(ax, trials, x, y, objective) if self.two
                      else draw_slice(ax, trials, x, objective, maximize))
