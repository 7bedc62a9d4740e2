"""Finding datasets: C-NMC layout, class folders, manifests, bad files, errors."""

from __future__ import annotations

import csv
import shutil
import threading
from pathlib import Path

import pytest
from PIL import Image

from allgui.core.dataset.discover import discover
from allgui.core.dataset.summary import format_summary, summarize
from allgui.core.errors import Cancelled, DatasetError
from allgui.core.events import EventLog, JobFinished, Progress


def test_six_real_bmps_as_class_folders(cnmc_samples):
    index = discover(cnmc_samples)
    assert index.layout == "class-folders"
    assert index.classes == ("all", "hem")
    assert index.positive_class == "all"
    assert len(index.records) == 6 and not index.bad_files
    assert {r.patient for r in index.records} == {"1", "H6"}
    assert {r.label for r in index.records if r.patient == "H6"} == {"hem"}
    assert not index.synthetic


@pytest.fixture
def small_cnmc(cnmc_samples, tmp_path) -> Path:
    """The six real cells in the Kaggle layout, one level down, with a labels CSV."""
    root = tmp_path / "download" / "C-NMC_Leukemia"
    samples = sorted(cnmc_samples.glob("*/*.bmp"))
    train = [s for s in samples if "_3_1_" in s.name or "_5_1_" in s.name or "_8_1" in s.name]
    for k, src in enumerate(train):
        label = src.parent.name
        dst = root / "training_data" / f"fold_{k % 2}" / label / src.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dst)
    prelim = root / "validation_data" / "C-NMC_test_prelim_phase_data"
    prelim.mkdir(parents=True)
    rest = [s for s in samples if s not in train]
    with open(root / "validation_data" / "C-NMC_test_prelim_phase_data_labels.csv", "w",
              newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Patient_ID", "new_names", "labels"])
        for n, src in enumerate(rest, 1):
            shutil.copy(src, prelim / f"{n}.bmp")
            w.writerow([src.name, f"{n}.bmp", 1 if src.parent.name == "all" else 0])
    final = root / "testing_data" / "C-NMC_test_final_phase_data"
    final.mkdir(parents=True)
    shutil.copy(samples[0], final / "1.bmp")
    return tmp_path / "download"


def test_cnmc_layout_one_level_down(small_cnmc):
    index = discover(small_cnmc)
    assert index.layout == "cnmc" and index.positive_class == "all"
    by_subset = {s: [r for r in index.records if r.subset == s]
                 for s in ("train", "test", "unlabelled")}
    assert len(by_subset["train"]) == 3 and len(by_subset["test"]) == 3
    assert len(by_subset["unlabelled"]) == 1 and by_subset["unlabelled"][0].label == ""
    assert {r.fold for r in by_subset["train"]} == {"fold_0", "fold_1"}
    for r in by_subset["test"]:
        assert r.original_name.startswith("UID_")
        assert r.patient in ("1", "H6")
        assert r.label == ("all" if r.patient == "1" else "hem")
        assert Path(r.path).name[0].isdigit()


def test_odd_files_are_listed_never_fatal(tmp_path, write_odd_files):
    kinds = write_odd_files(tmp_path / "cells" / "blast")
    shutil.copytree(tmp_path / "cells" / "blast", tmp_path / "cells" / "normal")
    index = discover(tmp_path / "cells")
    found_bad = {Path(b.path).name: b.reason for b in index.bad_files}
    found_ok = {Path(r.path).name for r in index.records}
    # The header check catches all but truncated pixel data ...
    for name, kind in kinds.items():
        if kind == "ok":
            assert name in found_ok
        elif name != "truncated.png":
            assert name in found_bad and found_bad[name]
    # ... which the summary's full decode finds.
    summary = summarize(index, workers=1)
    reasons = {Path(b.path).name: b.reason for b in summary.bad_files}
    assert "truncated" in reasons["truncated.png"]
    assert "empty" in reasons["zero.bmp"] and "not an image" in reasons["notes.jpg"]
    assert "too large" in reasons["bomb.png"]
    expected_ok = 2 * sum(1 for k in kinds.values() if k == "ok")
    assert summary.n_images == expected_ok
    assert "Files that cannot be used: 8" in format_summary(summary)


def test_class_folders_any_number_of_classes(tmp_path, cnmc_samples):
    src = next(cnmc_samples.glob("all/*.bmp"))
    for k, name in enumerate(["Blast", "lymphocyte", "monocyte"]):
        for n in range(2):
            img = Image.open(src).rotate(90 * n + k)
            (tmp_path / name).mkdir(exist_ok=True)
            img.save(tmp_path / name / f"cell{n}.png")
    index = discover(tmp_path)
    assert index.classes == ("blast", "lymphocyte", "monocyte")
    assert index.positive_class is None
    assert all(r.patient is None for r in index.records)


def test_jpeg_class_folders_from_real_cells(tmp_path, cnmc_samples):
    for src in cnmc_samples.glob("*/*.bmp"):
        dst = tmp_path / src.parent.name / (src.stem + ".jpg")
        dst.parent.mkdir(exist_ok=True)
        Image.open(src).save(dst, quality=92)
    summary = summarize(discover(tmp_path), workers=1)
    assert summary.per_subset == {"train": {"all": 3, "hem": 3}}
    assert summary.patients_per_subset == {"train": {"all": 1, "hem": 1}}
    assert summary.formats == {"JPEG (RGB)": 6}


def test_manifest_with_relative_paths_and_patients(tmp_path, cnmc_samples):
    images = tmp_path / "imgs"
    images.mkdir()
    rows = []
    for n, src in enumerate(sorted(cnmc_samples.glob("*/*.bmp"))):
        shutil.copy(src, images / f"img{n}.bmp")
        rows.append([f"imgs/img{n}.bmp", src.parent.name, f"P{n // 2}"])
    rows.append(["imgs/missing.bmp", "all", "P9"])
    manifest = tmp_path / "labels.csv"
    with open(manifest, "w", newline="") as fh:
        csv.writer(fh).writerows([["path", "label", "patient"], *rows])
    for picked in (manifest, tmp_path):
        index = discover(picked)
        assert index.layout == "manifest"
        assert len(index.records) == 6
        assert {r.patient for r in index.records} == {"P0", "P1", "P2"}
        assert [b.reason for b in index.bad_files] == ["listed in the manifest but not found"]


def test_identical_images_are_found(tmp_path, cnmc_samples):
    shutil.copytree(cnmc_samples, tmp_path / "d")
    src = next((tmp_path / "d" / "all").glob("*.bmp"))
    shutil.copy(src, tmp_path / "d" / "hem" / "copy_of_blast.bmp")
    summary = summarize(discover(tmp_path / "d"), workers=1)
    assert len(summary.identical) == 1 and len(summary.identical[0]) == 2


@pytest.mark.parametrize("setup, words", [
    ("missing", "does not exist"),
    ("empty", "No images found"),
    ("loose", "no class subfolders"),
    ("textfile", "is a file"),
])
def test_unusable_folders_are_plain_errors(tmp_path, cnmc_samples, setup, words):
    target = tmp_path / "x"
    if setup == "empty":
        (target / "sub").mkdir(parents=True)
    elif setup == "loose":
        target.mkdir()
        shutil.copy(next(cnmc_samples.glob("all/*.bmp")), target)
    elif setup == "textfile":
        target.write_text("hello")
    with pytest.raises(DatasetError, match=words):
        discover(target)


def test_progress_events_and_stop(cnmc_samples):
    log = EventLog()
    discover(cnmc_samples, sink=log)
    assert log.of_type(Progress)[-1].done == 6
    assert log.of_type(JobFinished)[-1].ok
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        discover(cnmc_samples, cancel=stop)


def test_picking_training_data_itself_keeps_the_folds(small_cnmc):
    index = discover(small_cnmc / "C-NMC_Leukemia" / "training_data")
    assert index.layout == "cnmc" and index.classes == ("all", "hem")
    assert {r.subset for r in index.records} == {"train"}
    assert {r.fold for r in index.records} == {"fold_0", "fold_1"}


def test_a_link_back_up_the_tree_is_followed_once(tmp_path, cnmc_samples):
    shutil.copytree(cnmc_samples, tmp_path / "d")
    (tmp_path / "d" / "all" / "loop").symlink_to(tmp_path / "d" / "all")
    index = discover(tmp_path / "d")
    assert len(index.records) == 6
