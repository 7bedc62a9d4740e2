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

import threading
from pathlib import Path

from allgui.core.dataset.folders import (  # noqa: F401  (header_problem, SYNTHETIC_MARKER: API)
    CNMC_POSITIVE,
    IGNORED_DIRS,
    JOB,
    SYNTHETIC_MARKER,
    Checker,
    child_dir,
    children,
    header_problem,
    is_synthetic,
    walk_images,
)
from allgui.core.dataset.imaging import is_image_name
from allgui.core.dataset.labels import ClassNames, class_key, label_problem
from allgui.core.dataset.manifest import (
    disagreement_note,
    find_manifest,
    name_disagrees,
    read_cnmc_labels,
    scan_manifest,
    unknown_label,
)
from allgui.core.dataset.patients import parse_cnmc_name, patient_from_name
from allgui.core.dataset.records import BadFile, DatasetIndex, ImageRecord
from allgui.core.errors import DatasetError
from allgui.core.events import Notice, Sink, job, null_sink


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
    with job(sink, JOB, f"Looking for images in {path}") as j:
        if path.is_file():
            if path.suffix.lower() != ".csv":
                raise DatasetError(
                    f"{path} is a file; choose the folder that holds the images, "
                    "or a CSV manifest with columns path,label[,patient]."
                )
            index = scan_manifest(path, sink, cancel, warn=_warner(sink))
        elif (cnmc := _find_cnmc_root(path)) is not None:
            index = _scan_cnmc(path, cnmc, sink, cancel)
        elif _is_fold_folder(path):
            # The user picked C-NMC's training_data itself: folds, no test set.
            index = _scan_cnmc(path, path, sink, cancel, training=path)
        elif (manifest := find_manifest(path)) is not None:
            index = scan_manifest(manifest, sink, cancel, root=path, warn=_warner(sink))
        else:
            index = _scan_class_folders(path, sink, cancel)
        j.finish(f"Found {len(index.records)} images")
    return index


def _warner(sink: Sink):
    return lambda text: sink(Notice(JOB, level="warning", text=text))


# -- C-NMC --------------------------------------------------------------------


def _looks_like_cnmc(folder: Path) -> bool:
    return child_dir(folder, "training_data") is not None or (
        child_dir(folder, "validation_data") is not None
    )


def _is_fold_folder(folder: Path) -> bool:
    """True for a folder of ``fold_*`` subfolders, each holding class folders."""
    subdirs = [c for c in children(folder) if c.is_dir() and not c.name.startswith(".")]
    return bool(subdirs) and all(
        c.name.lower().startswith("fold") and _holds_folders(c) for c in subdirs
    )


def _holds_folders(folder: Path) -> bool:
    try:
        return any(g.is_dir() for g in children(folder))
    except DatasetError:
        return True  # cannot be read: counted as what its name says, and reported by the scan


def _find_cnmc_root(folder: Path) -> Path | None:
    if _looks_like_cnmc(folder):
        return folder
    subdirs = [c for c in children(folder) if c.is_dir() and not c.name.startswith(".")]
    hits = [c for c in subdirs if c.name.lower() not in IGNORED_DIRS and _looks_like_cnmc(c)]
    return hits[0] if len(hits) == 1 else None


def _scan_cnmc(
    picked: Path,
    root: Path,
    sink: Sink,
    cancel: threading.Event | None,
    training: Path | None = None,
) -> DatasetIndex:
    notes: list[str] = []
    skipped: list[BadFile] = []  # unreadable subfolders
    train_files: list[tuple[Path, str, str | None]] = []  # path, label, fold
    only_training = training is not None
    training = training or child_dir(root, "training_data")
    if training is not None:
        folds = [
            c for c in children(training, skipped)
            if c.is_dir() and c.name.lower().startswith("fold")
        ]
        groups: list[tuple[Path, str | None]] = [(f, f.name) for f in folds] or [(training, None)]
        for folder, fold in groups:
            for class_dir in children(folder, skipped):
                if not class_dir.is_dir() or class_dir.name.startswith("."):
                    continue
                if (problem := label_problem(class_dir.name)) is not None:
                    skipped.append(BadFile(str(class_dir), f"{problem}; its images were left out"))
                    continue
                label = class_key(class_dir.name)
                train_files += [(p, label, fold)
                                for p in walk_images(class_dir, skipped, root=picked)]

    test_files: list[Path] = []
    labels: dict[str, tuple[str, str]] = {}
    validation = None if only_training else child_dir(root, "validation_data")
    if validation is not None:
        csvs = sorted(p for p in validation.rglob("*.csv") if "label" in p.name.lower())
        if csvs:
            labels, repeats = read_cnmc_labels(csvs[0])
            notes += repeats
        else:
            notes.append("validation_data has no labels CSV: its images are treated as unlabelled.")
        test_files = sorted(walk_images(validation, skipped, root=picked))

    unlabelled_files: list[Path] = []
    testing = None if only_training else child_dir(root, "testing_data")
    if testing is not None:
        unlabelled_files = sorted(walk_images(testing, skipped, root=picked))

    total = len(train_files) + len(test_files) + len(unlabelled_files)
    if total == 0:
        raise DatasetError(f"{root} looks like C-NMC 2019 but holds no images.")
    check = Checker(sink, cancel, total)
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
    disagree: list[tuple[str, str, str]] = []
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
        if label not in ("all", "hem"):
            check.bad.append(BadFile(str(path), unknown_label(label, csvs[0])))
            continue
        for name in (original, path.name):
            if (says := name_disagrees(name, label)) is not None:
                disagree.append((name, says, label))
                break
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
    for text in disagreement_note(disagree, "validation_data"):
        sink(Notice(JOB, level="warning", text=text))
        notes.append(text)
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
        bad_files=tuple({b.path: b for b in skipped}.values()) + tuple(check.bad),
        positive_class=CNMC_POSITIVE if CNMC_POSITIVE in classes else None,
        synthetic=is_synthetic(picked, root),
        notes=tuple(notes),
    )


# -- class folders ------------------------------------------------------------


def _scan_class_folders(
    folder: Path, sink: Sink, cancel: threading.Event | None
) -> DatasetIndex:
    class_dirs = [
        c
        for c in children(folder)
        if c.is_dir() and not c.name.startswith(".") and c.name.lower() not in IGNORED_DIRS
    ]
    skipped: list[BadFile] = []  # unreadable subfolders, refused class names, links
    names = ClassNames()
    files: list[tuple[Path, str]] = []
    for c in class_dirs:
        if (problem := label_problem(c.name)) is not None:
            skipped.append(BadFile(str(c), f"{problem}; its images were left out"))
            continue
        label = names.add(c.name)
        files += [(p, label) for p in walk_images(c, skipped, root=folder)]
    loose = [c for c in children(folder) if c.is_file() and is_image_name(c)]
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
    notes += names.merge_note("class folders")
    check = Checker(sink, cancel, len(files))
    records = []
    for path, label in sorted(files):
        if check.ok(path):
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
        bad_files=tuple(skipped + check.bad),
        positive_class=CNMC_POSITIVE if CNMC_POSITIVE in classes else None,
        synthetic=is_synthetic(folder),
        notes=tuple(notes),
    )


