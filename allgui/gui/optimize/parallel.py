"""Parallel coordinates of a study, as optuna-dashboard draws them: one
vertical axis per parameter with its real values (a log axis where the
parameter is searched on a log scale), the objective last, every trial a line
coloured by its objective with a colour bar, and the best trial on top."""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib
import matplotlib.patches
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.ticker import LogLocator, MaxNLocator

from allgui.core.model.params import BY_NAME, label, ordered

CMAP = "viridis"
BAR_POINTS = 64  # room on the right for the colour bar and its numbers, in points


@dataclass(frozen=True)
class Scale:
    """Where a column's values go on 0..1, and its tick values with their words."""

    name: str
    kind: str  # 'log', 'linear' or 'category'
    lo: float
    hi: float
    categories: tuple[str, ...] = ()
    marks: tuple[float, ...] = ()  # the values to tick (a parameter chosen from a list)

    def position(self, value) -> float:
        if self.kind == "category":
            if len(self.categories) == 1:
                return 0.5
            return self.categories.index(str(value)) / (len(self.categories) - 1)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return math.nan
        v = math.log10(value) if self.kind == "log" else float(value)
        return 0.5 if self.hi == self.lo else (v - self.lo) / (self.hi - self.lo)

    def ticks(self) -> list[tuple[float, str]]:
        if self.kind == "category":
            return [(self.position(c), c) for c in self.categories]
        if self.hi == self.lo:
            real = 10 ** self.lo if self.kind == "log" else self.lo
            return [(0.5, _number(real, self.kind == "log"))]
        if self.marks:
            values = list(self.marks)
        elif self.kind == "log":
            values = LogLocator(base=10, numticks=6).tick_values(10 ** self.lo, 10 ** self.hi)
            values = [v for v in values if self.lo - 1e-9 <= math.log10(v) <= self.hi + 1e-9]
            if len(values) < 2:  # a range inside one decade: its ends
                values = [10 ** self.lo, 10 ** self.hi]
        else:
            values = MaxNLocator(nbins=4).tick_values(self.lo, self.hi)
            values = [v for v in values if self.lo - 1e-12 <= v <= self.hi + 1e-12]
        return [(self.position(v), _number(v, self.kind == "log")) for v in values]


def _number(v: float, log: bool = False) -> str:
    if float(v).is_integer() and abs(v) < 1e6 and not log:
        return str(int(v))
    if v != 0 and (log or abs(v) < 1e-2 or abs(v) >= 1e4):
        return f"{v:.0e}"
    return f"{v:.4g}"


def column_words(name: str) -> str:
    """A column's name on two lines ("learning\nrate"): side by side, seven
    columns' names fit under a plot a third of the window wide."""
    words = label(name).replace("_", " ")
    first, _, rest = words.partition(" ")
    return f"{first}\n{rest}" if rest else first


def scale_of(name: str, values: list) -> Scale:
    """The axis of parameter ``name`` (the registry says whether it is log)."""
    if any(isinstance(v, str) for v in values):
        return Scale(name, "category", 0, 1, tuple(sorted({str(v) for v in values})))
    nums = np.array([float(v) for v in values if v is not None], dtype=float)
    spec = BY_NAME.get(name)
    log = bool(spec and spec.log) and bool(np.all(nums > 0))
    if log:
        nums = np.log10(nums)
    marks = tuple(sorted({float(v) for v in values if v is not None})) if spec and spec.choices \
        else ()
    return Scale(name, "log" if log else "linear", float(nums.min()), float(nums.max()), (), marks)


def columns_of(trials, names: list[str]) -> list[str]:
    """The parameters every complete trial has a plain value for, in the registry's order."""
    return [n for n in ordered(names)
            if all(isinstance(t.params.get(n), (int, float, str)) for t in trials)]


def within(scales: list[Scale], ys: list[float], ranges: dict[str, tuple[float, float]]) -> bool:
    """Whether a trial's line (``ys``, its place on each column) passes every chosen range."""
    for s, y in zip(scales, ys, strict=True):
        r = ranges.get(s.name)
        if r is not None and not (r[0] - 1e-6 <= y <= r[1] + 1e-6):  # ends included
            return False
    return True


def draw_parallel(fig, ax, cax, trials, names: list[str], objective: str,
                  maximize: bool, bar=None, ranges: dict[str, tuple[float, float]] | None = None
                  ) -> dict:
    """Draw the trials on ``ax`` and the colour bar on ``cax``; returns what
    was drawn (the scales, the best trial, the trials kept by ``ranges``) for
    the tests and the tab. ``ranges``: per column (its name), the span of 0..1
    the user chose by dragging on it; trials outside any are drawn faint."""
    ranges = ranges or {}
    values = np.array([t.value for t in trials], dtype=float)
    columns = columns_of(trials, names)
    scales = [scale_of(n, [t.params.get(n) for t in trials]) for n in columns]
    scales.append(Scale(objective, "linear", float(values.min()), float(values.max())))
    xs = np.arange(len(scales))
    norm = Normalize(vmin=float(values.min()), vmax=float(values.max()) or 1.0)
    if norm.vmin == norm.vmax:
        norm = Normalize(vmin=norm.vmin - 0.5, vmax=norm.vmax + 0.5)
    cmap = matplotlib.colormaps[CMAP]
    # every trial the same value: none is best, and none is drawn as if it were
    tied = bool(np.ptp(values) == 0)
    best = -1 if tied else int(np.argmax(values) if maximize else np.argmin(values))
    order = sorted(range(len(trials)), key=lambda i: values[i] if maximize else -values[i])
    segments, colours, faint, kept = [], [], [], []
    for i in order:  # the better trials drawn later, so on top; the best last of all
        ys = [s.position(trials[i].params.get(s.name)) for s in scales[:-1]]
        ys.append(scales[-1].position(values[i]))
        if not within(scales, ys, ranges):
            faint.append(np.column_stack([xs, ys]))
            continue
        kept.append(trials[i].number)
        if i == best:
            ax.plot(xs, ys, color="black", lw=3.6, zorder=9, solid_capstyle="round")
            ax.plot(xs, ys, color=cmap(norm(values[i])), lw=2.2, zorder=10,
                    label=f"best: trial {trials[i].number} ({values[i]:.4f})")
        else:
            segments.append(np.column_stack([xs, ys]))
            colours.append(cmap(norm(values[i])))
    # one collection for all the other trials: one artist to draw, not one per trial
    ax.add_collection(LineCollection(segments, colors=colours, linewidths=1.1, alpha=0.75,
                                     zorder=2))
    if faint:  # outside the chosen ranges: there, but out of the way
        ax.add_collection(LineCollection(faint, colors="#9a9a9a", linewidths=0.8, alpha=0.3,
                                         zorder=1))
    text_colour = ax.xaxis.label.get_color()
    for x, s in zip(xs, scales, strict=True):
        r = ranges.get(s.name)
        if r is not None:
            ax.add_patch(matplotlib.patches.Rectangle((x - 0.08, r[0]), 0.16, r[1] - r[0],
                                                      fc="#dd8452", ec="#a0522d", alpha=0.35,
                                                      zorder=3))
    # the numbers on a ground of the plot's colour, so that no line crosses them
    ground = {"boxstyle": "square,pad=0.1", "fc": ax.get_facecolor(), "ec": "none", "alpha": 0.8}
    for x, s in zip(xs, scales, strict=True):
        ax.axvline(x, color=text_colour, lw=0.8, zorder=1)
        for y, words in s.ticks():
            ax.plot([x - 0.03, x], [y, y], color=text_colour, lw=0.8, zorder=1)
            ax.text(x - 0.05, y, words, ha="right", va="center", fontsize=7, color=text_colour,
                    zorder=11, bbox=ground)
    ax.set_xlim(-0.45, len(scales) - 0.7)
    ax.set_ylim(-0.06, 1.06)
    ax.set_yticks([])
    ax.set_xticks(xs)
    ax.set_xticklabels([column_words(s.name) for s in scales], fontsize="small")
    for spine in ax.spines.values():
        spine.set_visible(False)
    if ranges:
        ax.set_title(f"{len(kept)} of {len(trials)} trials within the chosen ranges "
                     "(click an axis to clear its range)", fontsize="small", loc="right")
    elif tied:
        ax.set_title(f"All {len(trials)} trials have the same {objective} ({values[0]:.4f}): "
                     "none is best", fontsize="small", loc="right")
    if not tied and kept and trials[best].number in kept:
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize="small", frameon=False)
    if bar is None:  # made once; later draws only move its limits (a new one costs ~50 ms)
        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax)
        bar.ax.tick_params(labelsize=7, colors=text_colour)
    else:
        bar.mappable.set_norm(norm)
        bar.update_normal(bar.mappable)
    bar.set_label(objective, fontsize="small", color=text_colour)
    return {"scales": scales, "best": None if tied else trials[best].number, "colorbar": bar,
            "kept": kept}


def place_colour_bar(fig, cax, right_points: float, top_points: float,
                     bottom_points: float) -> None:
    """The colour bar in the right margin the plot leaves for it."""
    w, h = fig.get_size_inches()
    if w * fig.dpi < 50 or h * fig.dpi < 50:
        return
    left = 1 - (right_points - 10) / 72 / w
    width = 10 / 72 / w
    bottom = bottom_points / 72 / h
    height = max(0.05, 1 - (top_points + bottom_points) / 72 / h)
    cax.set_position([left, bottom, width, height])
