"""What the mistakes gallery shows, without Qt: which test images of one run
fall in a confusion-matrix cell (or are its false negatives, its most
uncertain answers...), their thumbnails and heatmaps, read on a job's thread,
and the list as CSV.

The heatmaps come from the exported ONNX model of that very run (its
checkpoint is recorded in the model file), through the torch-free
classifier: the same Grad-CAM the Classify tab draws, and fast. A run that
was not exported gets no heatmap, and the gallery says so.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from allgui.core.errors import AllguiError, Cancelled
from allgui.core.events import Progress, Sink
from allgui.core.files.text import csv_row

THUMB_SIDE = 128
HEAT_SIDE = 128  # heatmaps kept this small (uint8); drawn over the full image when opened
SHOWN_AT_MOST = 240  # a cell of thousands of correct answers: the least sure first

# The named selections besides a single cell ("what researchers look at first").
KINDS = (
    ("mistakes", "All mistakes"),
    ("false_negatives", "False negatives (positive cells called negative)"),
    ("false_positives", "False positives (negative cells called positive)"),
    ("uncertain", "Most uncertain answers"),
)


@dataclass(frozen=True)
class GalleryItem:
    """One test image of the run, with the run's answer for it."""

    index: int  # row in predictions.csv
    path: str
    patient: str
    true: str
    predicted: str
    probability: float  # of the predicted class
    margin: float  # top probability minus the second


@dataclass(frozen=True)
class Selection:
    """What was asked for: a cell (``true``, ``predicted``) or a named kind."""

    kind: str  # 'cell' or one of KINDS
    true: str = ""
    predicted: str = ""

    def title(self, run_name: str) -> str:
        if self.kind == "cell":
            what = ("correctly called " + self.true if self.true == self.predicted
                    else f"{self.true} called {self.predicted}")
            return f"{run_name}: {what}"
        return f"{run_name}: " + dict(KINDS)[self.kind].split(" (")[0].lower()


@dataclass(frozen=True)
class Picture:
    """A thumbnail and the small heatmap of one item (None where unreadable)."""

    thumb: np.ndarray | None = field(repr=False, compare=False)
    heat: np.ndarray | None = field(repr=False, compare=False)
    problem: str = ""


@dataclass(frozen=True)
class GalleryContents:
    items: tuple[GalleryItem, ...]
    pictures: tuple[Picture, ...]
    total: int  # how many images matched (items may be fewer: SHOWN_AT_MOST)
    heat_note: str  # why there are no heatmaps, or ''
    model: str = ""  # the model file the heatmaps came from


def items_of(preds, positive: str) -> list[GalleryItem]:
    """Every row of a :class:`~allgui.core.validation.batch.Predictions`."""
    probs = np.asarray(preds.probabilities)
    ordered = np.sort(probs, axis=1)[:, ::-1]
    margins = ordered[:, 0] - (ordered[:, 1] if probs.shape[1] > 1 else 0)
    predicted = preds.predicted
    return [GalleryItem(i, preds.paths[i], preds.patients[i], preds.classes[int(preds.labels[i])],
                        preds.classes[int(predicted[i])], float(probs[i, predicted[i]]),
                        float(margins[i]))
            for i in range(len(preds.paths))]


def select(items: Sequence[GalleryItem], selection: Selection, positive: str,
           limit: int = SHOWN_AT_MOST) -> tuple[list[GalleryItem], int]:
    """The items of ``selection``, the most telling first, at most ``limit``,
    and how many matched in all."""
    k = selection.kind
    if k == "cell":
        chosen = [i for i in items if i.true == selection.true and i.predicted == selection.predicted]
    elif k == "mistakes":
        chosen = [i for i in items if i.true != i.predicted]
    elif k == "false_negatives":
        chosen = [i for i in items if i.true == positive and i.predicted != positive]
    elif k == "false_positives":
        chosen = [i for i in items if i.true != positive and i.predicted == positive]
    elif k == "uncertain":
        chosen = sorted(items, key=lambda i: i.margin)
        return chosen[:min(limit, 48)], len(chosen[:48])
    else:
        raise ValueError(k)
    # mistakes: the most confident first (the worst); correct answers: the least sure first
    chosen.sort(key=lambda i: -i.probability if i.true != i.predicted else i.probability)
    return chosen[:limit], len(chosen)


def csv_text(items: Sequence[GalleryItem]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(csv_row(["path", "patient", "true", "predicted", "probability", "margin"]))
    for i in items:
        w.writerow(csv_row([i.path, i.patient, i.true, i.predicted, f"{i.probability:.6f}",
                            f"{i.margin:.6f}"]))
    return buf.getvalue()


def model_of_run(models_dir: Path, checkpoint: Path) -> Path | None:
    """The exported model made from ``checkpoint``, newest first; None if none."""
    from allgui.core.infer import read_model_info

    if not models_dir.is_dir():
        return None
    for path in sorted(models_dir.glob("*.onnx"), key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            if Path(read_model_info(path).source) == Path(checkpoint):
                return path
        except (AllguiError, OSError):
            continue
    return None


def _small(arr: np.ndarray, side: int) -> np.ndarray:
    from PIL import Image

    img = Image.fromarray(arr)
    img.thumbnail((side, side))
    return np.asarray(img)


def load_pictures(items: Sequence[GalleryItem], total: int, model: Path | None, no_model: str,
                  sink: Sink, cancel: threading.Event) -> GalleryContents:
    """Thumbnails, and heatmaps from ``model`` when given (on a job's thread)."""
    from allgui.core.dataset.imaging import read_rgb

    classifier = None
    note = no_model
    if model is not None:
        from allgui.core.infer import Classifier

        try:
            classifier = Classifier(model, device="cpu", threads=1)
            note = ""
        except AllguiError as exc:
            note = f"No heatmaps: the model {model.name} cannot be opened ({exc.message})"
    pictures = []
    for n, item in enumerate(items):
        if cancel.is_set():
            raise Cancelled()
        sink(Progress("gallery", "images", n, len(items), f"Reading image {n + 1} of {len(items)}"))
        try:
            rgb = np.asarray(read_rgb(item.path))
        except AllguiError as exc:
            pictures.append(Picture(None, None, exc.message))
            continue
        heat = None
        if classifier is not None:
            try:
                pred = classifier.classify(rgb)
                if pred.heatmap is not None:
                    heat = _small((np.clip(pred.heatmap, 0, 1) * 255).astype(np.uint8), HEAT_SIDE)
            except AllguiError as exc:
                pictures.append(Picture(_small(rgb, THUMB_SIDE), None, exc.message))
                continue
        pictures.append(Picture(_small(rgb, THUMB_SIDE), heat))
    return GalleryContents(tuple(items), tuple(pictures), total, note,
                           model.name if model is not None and classifier is not None else "")
