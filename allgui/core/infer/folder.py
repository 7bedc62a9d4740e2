"""Classifying every image in a folder, to a CSV a spreadsheet opens.

A bad file (not an image, truncated, empty, too large) is skipped and listed
in the CSV with the reason; the run never stops halfway. Where file names
carry C-NMC patient IDs (``UID_<patient>_<image>_<cell>_<class>.bmp``), a
second CSV sums the results up per patient. Files are written atomically, so
an interrupted run leaves no half-written CSV behind.
"""

from __future__ import annotations

import csv
import io
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from allgui.core.dataset.imaging import is_image_name
from allgui.core.dataset.patients import patient_from_name, patient_sort_key
from allgui.core.errors import AllguiError, Cancelled, ModelFileError
from allgui.core.events import Notice, Progress, Sink, job, null_sink
from allgui.core.files.atomic import atomic_write_text
from allgui.core.files.text import csv_row, terminal_text
from allgui.core.infer.classifier import Classifier, Prediction, PreparedImage
from allgui.core.infer.heatmap import save_heatmap_png
from allgui.core.infer.targets import check_targets, patients_csv_path

JOB = "classify"

@dataclass(frozen=True)
class FolderRow:
    """One line of the results CSV: a prediction, or the reason a file was skipped."""

    path: str  # relative to the folder
    patient: str | None
    prediction: Prediction | None = None
    error: str = ""
    heatmap_path: str = ""
    # A small copy of the heatmap (uint8, 0..255) when asked for: big folders
    # fit in memory, and a window can still draw it over the image.
    heatmap_small: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class PatientSummary:
    patient: str
    images: int
    counts: dict[str, int]  # predicted images per class
    mean_probabilities: dict[str, float]
    uncertain: int
    majority: str  # the class most of this patient's images were given ('' on a tie)


@dataclass(frozen=True)
class FolderResult:
    folder: str
    rows: tuple[FolderRow, ...]
    patients: tuple[PatientSummary, ...] = ()
    csv_path: str | None = None
    patients_csv_path: str | None = None
    ignored: tuple[str, ...] = field(default=())  # files not named like images

    @property
    def classified(self) -> tuple[FolderRow, ...]:
        return tuple(r for r in self.rows if r.prediction is not None)

    @property
    def bad(self) -> tuple[FolderRow, ...]:
        return tuple(r for r in self.rows if r.prediction is None)


def find_images(folder: str | os.PathLike, recursive: bool = True) -> tuple[list[Path], list[Path]]:
    """(image files, other files) under ``folder``, sorted; hidden files are left out."""
    root = Path(folder)
    if not root.is_dir():
        raise AllguiError(f"{folder} is not a folder.")
    walker = root.rglob("*") if recursive else root.iterdir()
    images: list[Path] = []
    others: list[Path] = []
    for path in sorted(walker):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        (images if is_image_name(path) else others).append(path)
    return images, others


def classify_folder(
    classifier: Classifier,
    folder: str | os.PathLike,
    csv_path: str | os.PathLike | None = None,
    *,
    heatmaps_dir: str | os.PathLike | None = None,
    recursive: bool = True,
    batch_size: int = 8,
    sink: Sink = null_sink,
    cancel: threading.Event | None = None,
    force: bool = False,
) -> FolderResult:
    """Classify every image under ``folder``; write the CSVs when ``csv_path`` is given
    and one heatmap PNG per image under ``heatmaps_dir`` when given (``force``:
    replace files allgui did not write; never an image or the model).

    On Stop (``cancel`` set) the rows finished so far are written, then Cancelled
    is raised.
    """
    root = Path(folder)
    images, others = find_images(root, recursive)
    result = classify_files(
        classifier,
        images,
        csv_path,
        base=root,
        heatmaps_dir=heatmaps_dir,
        batch_size=batch_size,
        sink=sink,
        cancel=cancel,
        force=force,
    )
    return replace(result, ignored=tuple(p.relative_to(root).as_posix() for p in others))


def classify_files(
    classifier: Classifier,
    files: Sequence[str | os.PathLike],
    csv_path: str | os.PathLike | None = None,
    *,
    base: str | os.PathLike | None = None,
    heatmaps_dir: str | os.PathLike | None = None,
    batch_size: int = 8,
    sink: Sink = null_sink,
    cancel: threading.Event | None = None,
    small_heatmaps: int = 0,
    on_rows: Callable[[Sequence[FolderRow]], None] | None = None,
    force: bool = False,
) -> FolderResult:
    """Classify ``files`` as :func:`classify_folder` does; paths in the results
    are relative to ``base`` when given, else as given.

    ``small_heatmaps``: keep each heatmap in its row, at most this many pixels
    a side (0: none). ``on_rows`` is given each batch's rows as they are done,
    so a caller keeps them whatever happens later."""
    paths = [Path(f) for f in files]
    heat_names = _heatmap_names(paths, base) if heatmaps_dir is not None else {}
    # before the job starts: a refused output is the command's error, not the job's
    check_targets(paths, csv_path, heatmaps_dir, heat_names, classifier.info.path, force)
    where = f" in {base}" if base is not None else ""
    with job(sink, JOB, f"Classifying {len(paths)} images{where}", len(paths)) as j:
        rows: list[FolderRow] = []
        batch: list[tuple[str, Path, PreparedImage]] = []

        def flush() -> None:
            done = _run_batch(classifier, batch, heatmaps_dir, small_heatmaps)
            rows.extend(done)
            batch.clear()
            if on_rows is not None:
                on_rows(done)
            sink(Progress(JOB, "classify", len(rows), len(paths)))

        def skipped(row: FolderRow) -> None:
            rows.append(row)
            sink(Notice(JOB, "warning", f"Skipped {row.path}: {row.error}"))
            if on_rows is not None:
                on_rows([row])

        stopped = False
        for path in paths:
            if cancel is not None and cancel.is_set():
                stopped = True
                break
            rel = path.relative_to(base).as_posix() if base is not None else str(path)
            try:
                batch.append((rel, heat_names.get(path, Path()), classifier.prepare(path)))
            except AllguiError as exc:
                skipped(FolderRow(rel, patient_from_name(path.name), error=_reason(exc)))
            except Exception as exc:  # an odd file must not end the run
                skipped(FolderRow(rel, patient_from_name(path.name), error=f"unexpected error: {exc}"))
            if len(batch) >= batch_size:
                flush()
        if batch:
            flush()

        rows.sort(key=lambda r: r.path)
        result = FolderResult(
            folder=str(base) if base is not None else "",
            rows=tuple(rows),
            patients=summarise_patients(rows, classifier.classes),
        )
        if csv_path is not None:
            result = write_csvs(result, csv_path, classifier.classes)
        j.finish(f"{len(result.classified)} classified, {len(result.bad)} skipped")
        if stopped:  # the job ends as stopped, with the message above
            raise Cancelled(
                f"Stopped by the user after {len(rows)} of {len(paths)} images"
                + ("; the results so far were saved." if csv_path is not None else ".")
            )
    return result


def _heatmap_names(files: Sequence[Path], base: str | os.PathLike | None) -> dict[Path, Path]:
    """Where each file's heatmap goes inside the heatmaps folder: its path from
    ``base`` (or from the files' common folder) with ``.png`` added, so
    ``a.bmp`` and ``a.png`` give ``a.bmp.png`` and ``a.png.png``, and the same
    name in two folders stays two files."""
    if not files:
        return {}
    absolute = [Path(os.path.abspath(f)) for f in files]
    if base is not None:
        root: Path | None = Path(os.path.abspath(base))
    else:
        try:
            root = Path(os.path.commonpath([str(p.parent) for p in absolute]))
        except ValueError:  # different drives: keep each whole path, less its drive
            root = None
    out = {}
    for given, path in zip(files, absolute, strict=True):
        try:
            inside = path.relative_to(root) if root is not None else Path(*path.parts[1:])
        except ValueError:  # outside base
            inside = Path(*path.parts[1:])
        out[given] = inside.with_name(inside.name + ".png")
    return out


def _reason(exc: AllguiError) -> str:
    return getattr(exc, "reason", "") or exc.message


def _run_batch(
    classifier: Classifier,
    batch: Sequence[tuple[str, Path, PreparedImage]],
    heatmaps_dir: str | os.PathLike | None,
    small_heatmaps: int = 0,
) -> list[FolderRow]:
    want_heat = heatmaps_dir is not None or small_heatmaps > 0
    try:
        preds: list[Prediction | Exception] = list(
            classifier.classify_prepared([p for _, _, p in batch], heatmap=want_heat))
    except ModelFileError:  # the model itself is unusable: no image gets a label from it
        raise
    except Exception:  # retry one by one, so one image cannot take the others down
        preds = []
        for _, _, item in batch:
            try:
                preds.append(classifier.classify_prepared([item], heatmap=want_heat)[0])
            except ModelFileError:
                raise
            except Exception as exc:
                preds.append(exc)
    rows = []
    for (rel, heat_name, item), pred in zip(batch, preds, strict=True):
        patient = patient_from_name(Path(rel).name)
        if isinstance(pred, Exception):
            rows.append(FolderRow(rel, patient, error=f"the model failed on it: {pred}"))
            continue
        heat_path, error = "", ""
        small = small_heatmap(pred.heatmap, small_heatmaps) if small_heatmaps > 0 else None
        if heatmaps_dir is not None and pred.heatmap is not None:
            target = Path(heatmaps_dir) / heat_name
            try:
                save_heatmap_png(target, item.original, pred.heatmap)
                heat_path = str(target)
            except OSError as exc:
                error = f"heatmap not saved: {exc.strerror or exc}"
        # The heatmap array is dropped here: the PNG holds it, and a large
        # folder would not fit in memory otherwise.
        slim = _without_heatmap(pred)
        rows.append(
            FolderRow(rel, patient, slim, error=error, heatmap_path=heat_path, heatmap_small=small)
        )
    return rows


def small_heatmap(heat: np.ndarray | None, side: int) -> np.ndarray | None:
    """A heatmap (0..1) as uint8 0..255, at most ``side`` pixels a side."""
    if heat is None:
        return None
    img = Image.fromarray(np.clip(heat * 255.0, 0, 255).astype(np.uint8))
    img.thumbnail((side, side), Image.Resampling.BILINEAR)
    return np.asarray(img).copy()


def _without_heatmap(pred: Prediction) -> Prediction:
    return replace(pred, heatmap=None)


def summarise_patients(
    rows: Sequence[FolderRow], classes: Sequence[str]
) -> tuple[PatientSummary, ...]:
    by_patient: dict[str, list[Prediction]] = {}
    for row in rows:
        if row.patient and row.prediction is not None:
            by_patient.setdefault(row.patient, []).append(row.prediction)
    out = []
    for patient in sorted(by_patient, key=patient_sort_key):
        preds = by_patient[patient]
        counts = {c: sum(p.label == c for p in preds) for c in classes}
        top = max(counts.values())
        winners = [c for c, n in counts.items() if n == top]
        out.append(
            PatientSummary(
                patient=patient,
                images=len(preds),
                counts=counts,
                mean_probabilities={
                    c: float(np.mean([p.probabilities[c] for p in preds])) for c in classes
                },
                uncertain=sum(p.uncertain for p in preds),
                majority=winners[0] if len(winners) == 1 else "",
            )
        )
    return tuple(out)


def results_csv_text(rows: Sequence[FolderRow], classes: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(csv_row(
        ["path", "class", *[f"p_{c}" for c in classes], "margin", "uncertain", "patient",
         "heatmap", "error"]
    ))
    for row in rows:
        pred = row.prediction
        if pred is None:
            values = ["", *["" for _ in classes], "", ""]
        else:
            values = [
                pred.label,
                *[f"{pred.probabilities[c]:.4f}" for c in classes],
                f"{pred.margin:.4f}",
                "yes" if pred.uncertain else "no",
            ]
        writer.writerow(csv_row([row.path, *values, row.patient or "", row.heatmap_path,
                                 row.error]))
    return buf.getvalue()


def patients_csv_text(summaries: Sequence[PatientSummary], classes: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(csv_row(
        ["patient", "images", *[f"n_{c}" for c in classes],
         *[f"mean_p_{c}" for c in classes], "uncertain", "majority"]
    ))
    for s in summaries:
        writer.writerow(csv_row(
            [s.patient, s.images, *[s.counts[c] for c in classes],
             *[f"{s.mean_probabilities[c]:.4f}" for c in classes], s.uncertain, s.majority]
        ))
    return buf.getvalue()


def write_csvs(
    result: FolderResult, csv_path: str | os.PathLike, classes: Sequence[str]
) -> FolderResult:
    """Write the results CSV and, when patients were found, ``<name>_patients.csv`` beside it."""
    csv_path = Path(csv_path)
    try:
        atomic_write_text(csv_path, results_csv_text(result.rows, classes))
        patients_path = None
        if result.patients:
            patients_path = patients_csv_path(csv_path)
            atomic_write_text(patients_path, patients_csv_text(result.patients, classes))
    except OSError as exc:
        raise AllguiError(
            f"Cannot write the results to {terminal_text(csv_path)}: {exc.strerror or exc}.",
            str(exc)) from exc
    return replace(
        result,
        csv_path=str(csv_path),
        patients_csv_path=str(patients_path) if patients_path else None,
    )
