"""Finding the images in the folder (or CSV manifest) a user picked.

Three layouts are recognised, in this order:

- ``cnmc``: the Kaggle distribution of C-NMC 2019, at the folder or one level
  down (``<folder>/C-NMC_Leukemia/``): ``training_data/fold_*/{all,hem}``
  (subset 'train'), ``validation_data/`` with its labels CSV (the official
  preliminary test set, subset 'test'), ``testing_data/`` (subset 'unlabelled').
- ``manifest``: a CSV with columns ``path,label[,patient]``; relative paths are
  read against the CSV's folder. Given as the CSV itself, or as a folder
  holding exactly one such CSV.
- ``class-folders``: one subfolder per class, any number of classes.

Each file is opened far enough to read its header, so empty files, non-images
and decompression bombs land in ``bad_files`` with a reason; a full decode
(truncated pixel data) is left to the summary and the cache.
"""

from __future__ import annotations

import csv
import os
import threading
import warnings
from collections.abc import Iterable
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from allgui.core.dataset.imaging import MAX_PIXELS, bomb_reason, is_image_name, too_large
from allgui.core.dataset.patients import canonical_patient, parse_cnmc_name, patient_from_name
from allgui.core.dataset.records import BadFile, DatasetIndex, ImageRecord
from allgui.core.errors import Cancelled, DatasetError
from allgui.core.events import JobFinished, JobStarted, Progress, Sink, null_sink

JOB = "scan"
SYNTHETIC_MARKER = "SYNTHETIC_DATA.txt"
CNMC_POSITIVE = "all"
# Folders that archivers and operating systems add, never data.
_IGNORED_DIRS = {"__macosx", ".ds_store", "$recycle.bin"}
_PROGRESS_EVERY = 250


def discover(
    path: str | Path, sink: Sink = null_sink, cancel: threading.Event | None = None
) -> DatasetIndex:
    """Index the dataset at ``path`` (a folder or a manifest CSV).

    Raises DatasetError when there is nothing usable there, Cancelled when
    ``cancel`` is set.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DatasetError(f"The dataset folder {path} does not exist.")
    path = path.resolve()
    sink(JobStarted(JOB, description=f"Looking for images in {path}"))
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise DatasetError(
                f"{path} is a file; choose the folder that holds the images, "
                "or a CSV manifest with columns path,label[,patient]."
            )
        index = _scan_manifest(path, sink, cancel)
    elif (cnmc := _find_cnmc_root(path)) is not None:
        index = _scan_cnmc(path, cnmc, sink, cancel)
    elif _is_fold_folder(path):
        # The user picked C-NMC's training_data itself: folds, no test set.
        index = _scan_cnmc(path, path, sink, cancel, training=path)
    elif (manifest := _find_manifest(path)) is not None:
        index = _scan_manifest(manifest, sink, cancel, root=path)
    else:
        index = _scan_class_folders(path, sink, cancel)
    sink(JobFinished(JOB, ok=True, message=f"Found {len(index.records)} images"))
    return index


# -- helpers shared by the layouts ------------------------------------------


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise DatasetError(f"Cannot read the folder {folder}.", str(exc)) from exc


def _child_dir(folder: Path, name: str) -> Path | None:
    """The subfolder called ``name``, ignoring case (Windows zips vary)."""
    for child in _children(folder):
        if child.is_dir() and child.name.lower() == name.lower():
            return child
    return None


def _walk_images(folder: Path) -> Iterable[Path]:
    """Image-named files under ``folder``, sorted, skipping hidden and system files."""
    stack = [folder]
    seen: set[str] = set()
    while stack:
        current = stack.pop()
        real = os.path.realpath(current)
        if real in seen:
            continue  # a link back up the tree: each folder once
        seen.add(real)
        for child in reversed(_children(current)):
            if child.name.startswith(".") or child.name.lower() in _IGNORED_DIRS:
                continue
            if child.is_dir():
                stack.append(child)
            elif is_image_name(child):
                yield child
    # (sorted order per folder; callers sort the full list)


def header_problem(path: Path) -> str | None:
    """Why ``path`` cannot be an image, from its header alone; None if it looks fine."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"cannot open the file ({exc.strerror or exc})"
    if size == 0:
        return "empty file (0 bytes)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)
            with Image.open(path) as img:
                w, h = img.size
    except UnidentifiedImageError:
        return "not an image, or a format allgui cannot read"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return bomb_reason(exc)
    except OSError as exc:
        return f"cannot open the file ({exc.strerror or exc})"
    except Exception as exc:  # Pillow's plugins raise assorted errors on damaged headers
        return f"corrupt image ({type(exc).__name__}: {exc})"
    if w * h > MAX_PIXELS:
        return too_large(w, h)
    if w == 0 or h == 0:
        return "image has no pixels"
    return None


class _Checker:
    """Checks headers, counts progress, honours Stop."""

    def __init__(self, sink: Sink, cancel: threading.Event | None, total: int) -> None:
        self.sink, self.cancel, self.total = sink, cancel, total
        self.done = 0
        self.bad: list[BadFile] = []

    def ok(self, path: Path) -> bool:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("Scan stopped by the user.")
        problem = header_problem(path)
        self.done += 1
        if self.done % _PROGRESS_EVERY == 0 or self.done == self.total:
            self.sink(Progress(JOB, phase="checking images", done=self.done, total=self.total))
        if problem is not None:
            self.bad.append(BadFile(str(path), problem))
            return False
        return True


def _is_synthetic(*folders: Path) -> bool:
    return any((f / SYNTHETIC_MARKER).is_file() for f in folders)


# -- C-NMC --------------------------------------------------------------------


def _looks_like_cnmc(folder: Path) -> bool:
    return _child_dir(folder, "training_data") is not None or (
        _child_dir(folder, "validation_data") is not None
    )


def _is_fold_folder(folder: Path) -> bool:
    """True for a folder of ``fold_*`` subfolders, each holding class folders."""
    subdirs = [c for c in _children(folder) if c.is_dir() and not c.name.startswith(".")]
    return bool(subdirs) and all(
        c.name.lower().startswith("fold") and any(g.is_dir() for g in _children(c))
        for c in subdirs
    )


def _find_cnmc_root(folder: Path) -> Path | None:
    if _looks_like_cnmc(folder):
        return folder
    subdirs = [c for c in _children(folder) if c.is_dir() and not c.name.startswith(".")]
    hits = [c for c in subdirs if c.name.lower() not in _IGNORED_DIRS and _looks_like_cnmc(c)]
    return hits[0] if len(hits) == 1 else None


def _read_cnmc_labels(csv_path: Path) -> dict[str, tuple[str, str]]:
    """``new_names`` -> (original name, label) from the preliminary test labels CSV."""
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"Cannot read the C-NMC labels file {csv_path}.", str(exc)) from exc
    table: dict[str, tuple[str, str]] = {}
    for row in rows:
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        new, original, raw = row.get("new_names", ""), row.get("patient_id", ""), row.get("labels")
        if not new or raw is None:
            continue
        label = {"1": "all", "0": "hem"}.get(raw, raw.lower())
        if label not in ("all", "hem"):
            continue
        table[new.lower()] = (original, label)
    if not table:
        raise DatasetError(
            f"The C-NMC labels file {csv_path} has no usable rows "
            "(expected columns Patient_ID,new_names,labels)."
        )
    return table


def _scan_cnmc(
    picked: Path,
    root: Path,
    sink: Sink,
    cancel: threading.Event | None,
    training: Path | None = None,
) -> DatasetIndex:
    notes: list[str] = []
    train_files: list[tuple[Path, str, str | None]] = []  # path, label, fold
    only_training = training is not None
    training = training or _child_dir(root, "training_data")
    if training is not None:
        folds = [c for c in _children(training) if c.is_dir() and c.name.lower().startswith("fold")]
        groups = [(f, f.name) for f in folds] or [(training, None)]
        for folder, fold in groups:
            for class_dir in _children(folder):
                if not class_dir.is_dir() or class_dir.name.startswith("."):
                    continue
                label = class_dir.name.lower()
                train_files += [(p, label, fold) for p in _walk_images(class_dir)]

    test_files: list[Path] = []
    labels: dict[str, tuple[str, str]] = {}
    validation = None if only_training else _child_dir(root, "validation_data")
    if validation is not None:
        csvs = sorted(p for p in validation.rglob("*.csv") if "label" in p.name.lower())
        if csvs:
            labels = _read_cnmc_labels(csvs[0])
        else:
            notes.append("validation_data has no labels CSV: its images are treated as unlabelled.")
        test_files = sorted(_walk_images(validation))

    unlabelled_files: list[Path] = []
    testing = None if only_training else _child_dir(root, "testing_data")
    if testing is not None:
        unlabelled_files = sorted(_walk_images(testing))

    total = len(train_files) + len(test_files) + len(unlabelled_files)
    if total == 0:
        raise DatasetError(f"{root} looks like C-NMC 2019 but holds no images.")
    check = _Checker(sink, cancel, total)
    records: list[ImageRecord] = []
    mismatched = 0
    for path, label, fold in sorted(train_files):
        if not check.ok(path):
            continue
        parsed = parse_cnmc_name(path.name)
        if parsed is not None and parsed.label != label:
            mismatched += 1
        records.append(
            ImageRecord(
                str(path), label, parsed.patient if parsed else None, fold=fold, subset="train"
            )
        )
    if mismatched:
        notes.append(
            f"{mismatched} training file names name another class than their folder; "
            "the folder was used."
        )
    unlisted = 0
    seen_new: set[str] = set()
    for path in test_files:
        if not check.ok(path):
            continue
        entry = labels.get(path.name.lower())
        if entry is None:
            unlisted += 1 if labels else 0
            records.append(ImageRecord(str(path), "", None, subset="unlabelled"))
            continue
        seen_new.add(path.name.lower())
        original, label = entry
        parsed = parse_cnmc_name(original)
        records.append(
            ImageRecord(
                str(path),
                label,
                parsed.patient if parsed else None,
                subset="test",
                original_name=original,
            )
        )
    if unlisted:
        notes.append(f"{unlisted} images in validation_data are not in its labels CSV.")
    missing = len(set(labels) - seen_new) if labels else 0
    if missing:
        notes.append(f"{missing} rows of the labels CSV name images that are missing or bad.")
    for path in unlabelled_files:
        if check.ok(path):
            records.append(ImageRecord(str(path), "", None, subset="unlabelled"))

    classes = tuple(sorted({r.label for r in records if r.label}))
    if not records:
        raise DatasetError(f"None of the images under {root} can be read.")
    return DatasetIndex(
        root=str(picked),
        layout="cnmc",
        classes=classes,
        records=tuple(records),
        bad_files=tuple(check.bad),
        positive_class=CNMC_POSITIVE if CNMC_POSITIVE in classes else None,
        synthetic=_is_synthetic(picked, root),
        notes=tuple(notes),
    )


# -- manifest -----------------------------------------------------------------


def _manifest_columns(csv_path: Path) -> list[str] | None:
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    if not header:
        return None
    cols = [h.strip().lower() for h in header]
    return cols if "path" in cols and "label" in cols else None


def _find_manifest(folder: Path) -> Path | None:
    csvs = [c for c in _children(folder) if c.is_file() and c.suffix.lower() == ".csv"]
    hits = [c for c in csvs if _manifest_columns(c) is not None]
    if len(hits) > 1:
        names = ", ".join(h.name for h in hits)
        raise DatasetError(f"{folder} holds several manifests ({names}); choose one of them.")
    return hits[0] if hits else None


def _scan_manifest(
    csv_path: Path, sink: Sink, cancel: threading.Event | None, root: Path | None = None
) -> DatasetIndex:
    if _manifest_columns(csv_path) is None:
        raise DatasetError(
            f"{csv_path} is not a manifest allgui understands: "
            "its first line must name the columns path,label (and optionally patient)."
        )
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            rows = [
                {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
                for row in csv.DictReader(fh)
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"Cannot read the manifest {csv_path}.", str(exc)) from exc
    base = csv_path.parent
    check = _Checker(sink, cancel, len(rows))
    records: list[ImageRecord] = []
    bad_missing: list[BadFile] = []
    seen: set[str] = set()
    duplicates = 0
    for row in rows:
        raw = row.get("path", "")
        if not raw:
            continue
        path = Path(raw.replace("\\", "/")).expanduser()
        path = (path if path.is_absolute() else base / path).resolve()
        if str(path) in seen:
            duplicates += 1
            continue
        seen.add(str(path))
        if not path.is_file():
            bad_missing.append(BadFile(str(path), "listed in the manifest but not found"))
            check.done += 1
            continue
        if not check.ok(path):
            continue
        label = row.get("label", "")
        patient = row.get("patient") or None
        if patient is None:
            parsed = parse_cnmc_name(path.name)
            patient = parsed.patient if parsed else None
        elif parse_cnmc_name(path.name) is not None:
            patient = canonical_patient(patient)
        subset = (row.get("subset") or row.get("split") or "train").lower()
        if subset not in ("train", "test"):
            subset = "train"
        records.append(
            ImageRecord(str(path), label, patient, subset=subset if label else "unlabelled")
        )
    notes = [f"{duplicates} rows repeat a path already listed; counted once."] if duplicates else []
    if not records:
        raise DatasetError(f"The manifest {csv_path} lists no readable images.")
    classes = tuple(sorted({r.label for r in records if r.label}))
    return DatasetIndex(
        root=str(root or base),
        layout="manifest",
        classes=classes,
        records=tuple(sorted(records, key=lambda r: r.path)),
        bad_files=tuple(bad_missing + check.bad),
        positive_class=CNMC_POSITIVE if CNMC_POSITIVE in classes else None,
        synthetic=_is_synthetic(base, root or base),
        notes=tuple(notes),
    )


# -- class folders ------------------------------------------------------------


def _scan_class_folders(
    folder: Path, sink: Sink, cancel: threading.Event | None
) -> DatasetIndex:
    class_dirs = [
        c
        for c in _children(folder)
        if c.is_dir() and not c.name.startswith(".") and c.name.lower() not in _IGNORED_DIRS
    ]
    files = [(p, c.name) for c in class_dirs for p in _walk_images(c)]
    loose = [c for c in _children(folder) if c.is_file() and is_image_name(c)]
    if not files:
        if loose:
            raise DatasetError(
                f"{folder} holds images but no class subfolders. Put each class in its own "
                "subfolder (for example all/ and hem/), or give a CSV manifest "
                "with columns path,label."
            )
        raise DatasetError(
            f"No images found in {folder}. allgui looks for the C-NMC 2019 folders, "
            "one subfolder per class, or a CSV manifest with columns path,label."
        )
    notes: list[str] = []
    if loose:
        notes.append(f"{len(loose)} images directly in the folder have no class and were left out.")
    lowered = {c.name.lower() for c in class_dirs}
    if len(lowered) < len(class_dirs):
        notes.append("Some class folders differ only in upper/lower case; they were merged.")
    check = _Checker(sink, cancel, len(files))
    records = []
    for path, class_name in sorted(files):
        if check.ok(path):
            label = class_name.lower()
            records.append(ImageRecord(str(path), label, patient_from_name(path.name), subset="train"))
    if not records:
        raise DatasetError(f"None of the images under {folder} can be read.")
    classes = tuple(sorted({r.label for r in records}))
    if len(classes) == 1:
        notes.append(f"Only one class ({classes[0]}) was found; training needs at least two.")
    return DatasetIndex(
        root=str(folder),
        layout="class-folders",
        classes=classes,
        records=tuple(records),
        bad_files=tuple(check.bad),
        positive_class=CNMC_POSITIVE if CNMC_POSITIVE in classes else None,
        synthetic=_is_synthetic(folder),
        notes=tuple(notes),
    )


