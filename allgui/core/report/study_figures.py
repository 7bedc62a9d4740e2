"""The search's pictures for the study comparison: the optimisation history
with the random (startup) and TPE phases told apart and the best trial
marked, and importances with their spread over seeds beside a second method.
Plain data in, a matplotlib Figure out, as in :mod:`figures`."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from allgui.core.report.figures import COLOURS, _figure, plain_text


def phased_history_figure(trials: Sequence[tuple[int, float]], objective: str,
                          maximize: bool, startup: Collection[int]) -> Figure:
    """Each finished trial's objective by trial number (integers), the best so
    far, the startup/TPE boundary as a dashed line and the best trial starred."""
    fig = _figure(6.4, 3.6)
    ax = fig.add_subplot()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if not trials:
        ax.text(0.5, 0.5, "no finished trials", ha="center", va="center", transform=ax.transAxes)
    else:
        numbers = np.asarray([t[0] for t in trials])
        values = np.asarray([t[1] for t in trials], dtype=float)
        random = np.asarray([n in startup for n in numbers])
        if random.any():
            ax.scatter(numbers[random], values[random], s=22, marker="s", color=COLOURS[1],
                       label="startup (random) trial", zorder=3)
        if (~random).any():
            ax.scatter(numbers[~random], values[~random], s=22, color=COLOURS[0],
                       label="TPE trial", zorder=3)
        best = np.maximum.accumulate(values) if maximize else np.minimum.accumulate(values)
        ax.step(np.append(numbers, numbers[-1] + 0.5), np.append(best, best[-1]), where="post",
                color=COLOURS[5], lw=1.2, label="best so far")
        if startup and (~random).any():
            boundary = max(startup) + 0.5
            ax.axvline(boundary, color="grey", ls="--", lw=1)
            ax.text(boundary, 0.02, " TPE from here", transform=ax.get_xaxis_transform(),
                    fontsize=7, color="grey")
        k = int(np.argmax(values) if maximize else np.argmin(values))
        ax.scatter([numbers[k]], [values[k]], s=140, marker="*", color=COLOURS[7], zorder=4,
                   label=f"best: trial {numbers[k]} ({values[k]:.4f})")
        ax.legend(fontsize=7, loc="best")
    ax.set_xlabel("trial number")
    ax.set_ylabel(plain_text(objective))
    ax.set_title("Optimisation history: random startup, then TPE", fontsize=9)
    return fig


def importance_estimate_figure(rows: Sequence[tuple[str, float, float, float | None]],
                               headline: str) -> Figure:
    """Per parameter (label, mean, sd, second method): the headline method's
    mean with an SD bar, and the second method (PED-ANOVA) beside it."""
    items = list(reversed(rows))  # most important at the top
    fig = _figure(6.4, 0.5 * max(1, len(items)) + 1.4)
    ax = fig.add_subplot()
    if not items:
        ax.text(0.5, 0.5, "not enough trials for importances", ha="center", va="center",
                transform=ax.transAxes)
    else:
        y = np.arange(len(items))
        means = [r[1] for r in items]
        ax.barh(y + 0.2, means, height=0.38, xerr=[r[2] for r in items], capsize=3,
                color=COLOURS[0], label=f"{plain_text(headline)} (mean \u00b1 SD over seeds)")
        other = [r[3] if r[3] is not None else 0.0 for r in items]
        ax.barh(y - 0.2, other, height=0.38, color=COLOURS[1], label="PED-ANOVA")
        for yy, m, o in zip(y, means, other, strict=True):
            ax.text(m, yy + 0.2, f" {m:.2f}", va="center", fontsize=7)
            ax.text(o, yy - 0.2, f" {o:.2f}", va="center", fontsize=7)
        ax.set_yticks(y, [plain_text(r[0]) for r in items])
        ax.set_xlim(0, max(max(means), max(other)) * 1.25 or 1)
        ax.legend(fontsize=7, loc="lower right")
    ax.set_xlabel("importance (share of the objective's variation)")
    ax.set_title(f"Parameter importances: {plain_text(headline)} beside PED-ANOVA", fontsize=9)
    return fig
