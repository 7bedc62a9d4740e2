"""The report's pictures, as :class:`matplotlib.figure.Figure` objects.

Only the object-oriented API and the Agg renderer are used, never pyplot's
global state: the window builds reports on a worker thread, where pyplot is
not safe. Every function takes plain data (arrays, lists, mappings), so the
pictures can be drawn from a study and a batch, or from anything else.

Text from data (class, run and parameter names, the test set) passes through
:func:`plain_text` before it is drawn: matplotlib reads ``$...$`` as mathtext,
and a class folder called ``a$b`` must print as itself, not break the report.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

# Colour-blind-safe colours (Okabe-Ito), cycled over runs.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000")


def plain_text(text: object) -> str:
    """``text`` as matplotlib draws it literally: every ``$`` escaped, so no
    mathtext is parsed (an escaped ``\\$`` is drawn as ``$``)."""
    return str(text).replace("$", r"\$")


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)  # the Agg canvas, attached explicitly: no backend switching
    return fig


def figure_png(fig: Figure, dpi: int = 150) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


@dataclass(frozen=True)
class RocCurve:
    label: str
    fpr: ArrayLike  # as roc_points gives them
    tpr: ArrayLike
    auc: float


def roc_curves(runs: Sequence[tuple[str, ArrayLike, ArrayLike, float]], classes: Sequence[str],
               positive_class: str) -> list[RocCurve]:
    """The ROC curves of ``runs`` (label, true class ids, probabilities, AUC):
    with two classes one per run, of the positive class; with more, one per
    class against the rest, the runs' predictions pooled. The window and the
    report draw these same curves."""
    from sklearn.metrics import roc_auc_score, roc_curve

    if len(classes) == 2:
        pos = list(classes).index(positive_class)
        out = []
        for label, labels, proba, auc in runs:
            y = (np.asarray(labels).ravel() == pos).astype(int)
            fpr, tpr, _ = roc_curve(y, np.asarray(proba)[:, pos])
            out.append(RocCurve(label, fpr, tpr, float(auc)))
        return out
    if not runs:
        return []
    labels = np.concatenate([np.asarray(r[1]).ravel() for r in runs])
    proba = np.concatenate([np.asarray(r[2]) for r in runs])
    out = []
    for k, name in enumerate(classes):
        y = (labels == k).astype(int)
        if 0 < y.sum() < len(y):  # a class absent (or alone) has no curve
            fpr, tpr, _ = roc_curve(y, proba[:, k])
            out.append(RocCurve(f"{name} vs rest", fpr, tpr, float(roc_auc_score(y, proba[:, k]))))
    return out


def roc_title(curves: Sequence[RocCurve], positive_class: str, classes: Sequence[str]) -> str:
    if len(classes) > 2:
        return "ROC, each class against the rest (runs pooled)"
    return f"ROC, '{plain_text(positive_class)}' as positive"


def draw_roc(ax, curves: Sequence[RocCurve], title: str, named: bool = True,
             mean_band: bool = False) -> None:
    """The curves on ``ax``, the chance line, and (``mean_band``, runs of one
    class) their vertical mean and a band of one standard deviation."""
    grid = np.linspace(0.0, 1.0, 201)
    interpolated = []
    for i, c in enumerate(curves):
        fpr, tpr = np.asarray(c.fpr, float), np.asarray(c.tpr, float)
        ax.plot(fpr, tpr, color=COLOURS[i % len(COLOURS)], lw=1.2, alpha=0.85,
                label=f"{plain_text(c.label)}: AUC {c.auc:.3f}" if named else None)
        row = np.interp(grid, fpr, tpr)
        row[0] = 0.0
        interpolated.append(row)
    if mean_band and len(interpolated) > 1:
        stack = np.vstack(interpolated)
        mean, sd = stack.mean(axis=0), stack.std(axis=0, ddof=1)
        mean[-1] = 1.0
        mean_auc = float(np.mean([c.auc for c in curves]))
        ax.plot(grid, mean, color="black", lw=2.2, label=f"mean of runs (AUC {mean_auc:.3f})")
        ax.fill_between(grid, np.clip(mean - sd, 0, 1), np.clip(mean + sd, 0, 1),
                        color="grey", alpha=0.25, label="mean \u00b1 1 sd")
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1, label="chance")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("False-positive rate (1 - specificity)")
    ax.set_ylabel("True-positive rate (sensitivity)")
    ax.set_title(title, fontsize=9)


def roc_figure(curves: Sequence[RocCurve], positive_class: str, test_set: str,
               classes: Sequence[str] = ("", "")) -> Figure:
    """The report's ROC picture: :func:`draw_roc`, with the runs' mean and band."""
    fig = _figure(5.2, 4.6)
    ax = fig.add_subplot()
    draw_roc(ax, curves, f"{roc_title(curves, positive_class, classes)}\n{plain_text(test_set)}",
             mean_band=len(classes) == 2)
    ax.legend(loc="lower right", fontsize=7)
    return fig


def draw_confusion(ax, matrix: Sequence[Sequence[int]], classes: Sequence[str], title: str,
                   fontsize: float = 8) -> None:
    """A confusion matrix on ``ax``: counts, and the share of each true class."""
    cm = np.asarray(matrix, dtype=float)
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    k = len(classes)
    names = [plain_text(c) for c in classes]
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for r in range(k):
        for c in range(k):
            ax.text(c, r, f"{int(cm[r, c])}\n{share[r, c]:.0%}", ha="center", va="center",
                    fontsize=fontsize, color="white" if share[r, c] > 0.6 else "black")
    ax.set_xticks(range(k), names, fontsize=fontsize)
    ax.set_yticks(range(k), names, fontsize=fontsize)
    if k > 2 or max((len(n) for n in names), default=0) > 8:
        # slanted: neighbouring names never run into each other ("benignearly")
        ax.tick_params(axis="x", labelrotation=35)
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right")
            tick.set_rotation_mode("anchor")
    ax.set_xlabel("predicted class", fontsize=fontsize)
    ax.set_ylabel("true class", fontsize=fontsize)
    ax.set_title(plain_text(title), fontsize=fontsize + 1)


def confusion_figure(
    matrices: Sequence[tuple[str, Sequence[Sequence[int]]]], classes: Sequence[str], test_set: str
) -> Figure:
    """One confusion matrix per run (:func:`draw_confusion`)."""
    n = max(1, len(matrices))
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig = _figure(2.6 * cols + 0.4, 2.5 * rows + 0.5)
    fig.suptitle(f"Confusion matrices ({plain_text(test_set)})", fontsize=9)
    for i, (label, matrix) in enumerate(matrices):
        draw_confusion(fig.add_subplot(rows, cols, i + 1), matrix, classes, label)
    return fig


@dataclass(frozen=True)
class Curves:
    """Per-epoch figures of one run; ``best_epoch`` (1-based) is the one kept."""

    label: str
    train_loss: Sequence[float]
    val_loss: Sequence[float]
    train_accuracy: Sequence[float] = ()
    val_accuracy: Sequence[float] = ()
    best_epoch: int | None = None


def learning_curves_figure(runs: Sequence[Curves]) -> Figure:
    """Loss and accuracy per epoch, one row per run, the kept epoch marked."""
    n = max(1, len(runs))
    fig = _figure(7.0, 2.2 * n + 0.4)
    for i, r in enumerate(runs):
        loss_ax = fig.add_subplot(n, 2, 2 * i + 1)
        acc_ax = fig.add_subplot(n, 2, 2 * i + 2)
        for ax, train, val, name in (
            (loss_ax, r.train_loss, r.val_loss, "loss"),
            (acc_ax, r.train_accuracy, r.val_accuracy, "accuracy"),
        ):
            if len(train):
                ax.plot(range(1, len(train) + 1), train, color=COLOURS[0], label="training")
            if len(val):
                ax.plot(range(1, len(val) + 1), val, color=COLOURS[1], label="validation")
            if r.best_epoch:
                ax.axvline(r.best_epoch, color="grey", ls="--", lw=1, label="epoch kept")
            ax.set_title(f"{plain_text(r.label)}: {name}", fontsize=9)
            ax.set_xlabel("epoch", fontsize=8)
            ax.tick_params(labelsize=7)
        if i == 0:
            loss_ax.legend(fontsize=7)
    return fig


def optimisation_history_figure(
    trials: Sequence[tuple[int, float]], objective: str, maximize: bool = True
) -> Figure:
    """Each finished trial's objective and the best so far."""
    fig = _figure(6.0, 3.4)
    ax = fig.add_subplot()
    if trials:
        numbers = np.asarray([t[0] for t in trials])
        values = np.asarray([t[1] for t in trials], dtype=float)
        best = np.maximum.accumulate(values) if maximize else np.minimum.accumulate(values)
        ax.scatter(numbers, values, s=18, color=COLOURS[0], label="trial", zorder=3)
        # One step past the last trial, so a best found by the last trial shows.
        ax.step(np.append(numbers, numbers[-1] + 0.5), np.append(best, best[-1]), where="post",
                color=COLOURS[5], label="best so far")
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no finished trials", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("trial number")
    ax.set_ylabel(plain_text(objective))
    ax.set_title("Optimisation history", fontsize=9)
    return fig


def importances_figure(importances: Mapping[str, float], method: str) -> Figure:
    """Horizontal bars, most important at the top; ``method`` is named in the title."""
    items = sorted(importances.items(), key=lambda kv: kv[1])
    fig = _figure(6.0, 0.45 * max(1, len(items)) + 1.2)
    ax = fig.add_subplot()
    if items:
        ax.barh([plain_text(k) for k, _ in items], [v for _, v in items], color=COLOURS[0])
        for y, (_, v) in enumerate(items):
            ax.text(v, y, f" {v:.2f}", va="center", fontsize=7)
        ax.set_xlim(0, max(v for _, v in items) * 1.2 or 1)
    else:
        ax.text(0.5, 0.5, "not enough trials for importances", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xlabel("importance")
    ax.set_title(f"Parameter importances ({plain_text(method)})", fontsize=9)
    return fig
