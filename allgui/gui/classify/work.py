"""What the Classify tab's jobs run: plain functions of the torch-free
classifier (:mod:`allgui.core.infer`), called on a job's thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from allgui.core.dataset.imaging import is_image_name
from allgui.core.errors import Cancelled
from allgui.core.events import Sink
from allgui.core.project import Project

if TYPE_CHECKING:  # onnxruntime loads only when a model is used
    from allgui.core.infer.folder import FolderRow

HEATMAP_SIDE = 128  # heatmaps are kept this small (uint8) so big folders fit in memory


@dataclass(frozen=True)
class ClassifyOutcome:
    """What a classification job hands back: every row finished, even when it
    was stopped or ended by an error (shown after the rows are in)."""

    rows: tuple[FolderRow, ...]
    stopped: bool = False
    error: BaseException | None = None


def latest_model(project: Project | None) -> Path | None:
    if project is None or not project.models_dir.is_dir():
        return None
    models = sorted(project.models_dir.glob("*.onnx"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


def expand_paths(paths: list[str]) -> list[str]:
    """Image files named directly, and those inside named folders."""
    from allgui.core.infer.folder import find_images

    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out += [str(f) for f in find_images(path)[0]]
        elif is_image_name(path):
            out.append(str(path))
    return out


def classify_in_window(
    classifier, files: list[str], sink: Sink, cancel: threading.Event
) -> ClassifyOutcome:
    """Classify ``files`` with the engine's :func:`classify_files` (bad files
    and images the model fails on become rows with their reason); whatever
    happens, the rows finished so far come back."""
    from allgui.core.infer.folder import classify_files

    done: list[FolderRow] = []
    try:
        result = classify_files(classifier, files, sink=sink, cancel=cancel,
                                small_heatmaps=HEATMAP_SIDE, on_rows=done.extend)
    except Cancelled:
        return ClassifyOutcome(tuple(done), stopped=True)
    except Exception as exc:  # noqa: BLE001 - keep the finished rows, show the error after
        return ClassifyOutcome(tuple(done), error=exc)
    return ClassifyOutcome(result.rows)
