"""Labels from CSV files and folders that cannot be read: contradictions are
refused by name, odd rows and unknown labels are named, a subfolder that
cannot be read is skipped and listed."""

from __future__ import annotations

import csv
import pathlib
from pathlib import Path

import pytest
from PIL import Image

from allgui.cli import main
from allgui.core.dataset.discover import discover
from allgui.core.errors import DatasetError
from allgui.core.events import EventLog, Notice


def _cells(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        Image.new("RGB", (12, 12), (k * 40, 90, 200 - k * 30)).save(folder / name)


def _manifest(tmp_path: Path, rows: list[list[str]], text: str | None = None) -> Path:
    _cells(tmp_path / "imgs", ["a.png", "b.png", "c.png"])
    path = tmp_path / "manifest.csv"
    if text is not None:
        path.write_text(text)
        return path
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([["path", "label"], *rows])
    return path


def test_one_image_with_two_labels_is_refused_naming_both(tmp_path):
    manifest = _manifest(tmp_path, [["imgs/a.png", "all"], ["imgs/b.png", "hem"],
                                    ["imgs/a.png", "hem"]])
    with pytest.raises(DatasetError) as info:
        discover(manifest)
    text = info.value.message
    assert "imgs/a.png" in text and "'all' (line 2)" in text and "'hem' (line 4)" in text


def test_one_image_twice_with_one_label_is_one_warning(tmp_path):
    manifest = _manifest(tmp_path, [["imgs/a.png", "all"], ["imgs/b.png", "hem"],
                                    ["imgs/a.png", "all"], ["imgs/a.png", "all"]])
    log = EventLog()
    index = discover(manifest, log)
    assert len(index.records) == 2
    warnings = [e.text for e in log.events if isinstance(e, Notice) and e.level == "warning"]
    assert len(warnings) == 1 and "2 rows" in warnings[0] and "same label" in warnings[0]


def test_a_row_with_an_extra_comma_names_the_file_and_line(tmp_path, capsys):
    manifest = _manifest(tmp_path, [], "path,label\nimgs/a.png,all\nimgs/b,x.png,hem\n")
    with pytest.raises(DatasetError) as info:
        discover(manifest)
    assert info.value.message.startswith(f"Line 3 of the manifest {manifest} has more values")
    assert main(["data", "scan", str(manifest)]) != 0
    err = capsys.readouterr().err
    assert "Line 3 of the manifest" in err and "unexpected" not in err


def _cnmc(tmp_path: Path, rows: list[list[str]]) -> Path:
    root = tmp_path / "C-NMC"
    _cells(root / "training_data" / "fold_0" / "all", ["UID_1_1_1_all.bmp"])
    _cells(root / "training_data" / "fold_0" / "hem", ["UID_H2_1_1_hem.bmp"])
    _cells(root / "validation_data" / "prelim", ["1.bmp", "2.bmp", "3.bmp"])
    with open(root / "validation_data" / "prelim_labels.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["Patient_ID", "new_names", "labels"], *rows])
    return root


def test_an_unknown_cnmc_label_is_named_with_the_expected_ones(tmp_path):
    root = _cnmc(tmp_path, [["UID_3_1_1_all.bmp", "1.bmp", "1"],
                            ["UID_H4_1_1_hem.bmp", "2.bmp", "0"],
                            ["UID_5_1_1_all.bmp", "3.bmp", "2"]])
    index = discover(root)
    reasons = {Path(b.path).name: b.reason for b in index.bad_files}
    assert reasons["3.bmp"].startswith("unknown label '2' in prelim_labels.csv (expected ")
    assert "hem" in reasons["3.bmp"] and "all" in reasons["3.bmp"]
    assert not any("not in its labels CSV" in n for n in index.notes)
    assert {Path(r.path).name for r in index.records if r.subset == "test"} == {"1.bmp", "2.bmp"}


def test_a_cnmc_test_image_listed_twice_with_two_labels_is_refused(tmp_path):
    root = _cnmc(tmp_path, [["UID_3_1_1_all.bmp", "1.bmp", "1"],
                            ["UID_3_1_1_all.bmp", "1.bmp", "0"]])
    with pytest.raises(DatasetError, match=r"1\.bmp twice .*'all'.*'hem'"):
        discover(root)


def test_a_name_saying_all_with_a_hem_label_is_a_warning(tmp_path):
    root = _cnmc(tmp_path, [["UID_3_1_1_all.bmp", "1.bmp", "0"],
                            ["UID_H4_1_1_hem.bmp", "2.bmp", "0"]])
    log = EventLog()
    index = discover(root, log)
    warnings = [e.text for e in log.events if isinstance(e, Notice) and e.level == "warning"]
    assert len(warnings) == 1
    assert "UID_3_1_1_all.bmp says 'all', its label 'hem'" in warnings[0]
    assert warnings[0] in index.notes


def _locked(monkeypatch, locked: Path) -> None:
    real = pathlib.Path.iterdir

    def iterdir(self):
        if self == locked:  # as chmod 000 would, for a user other than root
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(pathlib.Path, "iterdir", iterdir)


@pytest.mark.parametrize("locked", ["hem/locked", "hem"])
def test_an_unreadable_subfolder_is_skipped_and_listed(tmp_path, monkeypatch, locked):
    _cells(tmp_path / "d" / "all", ["a1.png", "a2.png"])
    _cells(tmp_path / "d" / "hem" / "ok", ["h1.png"])
    _cells(tmp_path / "d" / "hem" / "locked", ["h2.png"])
    _locked(monkeypatch, tmp_path / "d" / locked)
    index = discover(tmp_path / "d")
    left = ["a1.png", "a2.png"] + (["h1.png"] if locked != "hem" else [])
    assert sorted(Path(r.path).name for r in index.records) == left
    assert [(b.path, b.reason) for b in index.bad_files] == [
        (str(tmp_path / "d" / locked), "cannot read the folder (Permission denied)")
    ]


@pytest.mark.parametrize("picked", ["C-NMC", "C-NMC/training_data"])
def test_an_unreadable_cnmc_fold_is_skipped_and_listed(tmp_path, monkeypatch, picked):
    root = _cnmc(tmp_path, [["UID_3_1_1_all.bmp", "1.bmp", "1"]])
    _cells(root / "training_data" / "fold_1" / "all", ["UID_7_1_1_all.bmp"])
    _locked(monkeypatch, root / "training_data" / "fold_1")
    index = discover(tmp_path / picked)
    assert index.layout == "cnmc"
    assert "UID_7_1_1_all.bmp" not in {Path(r.path).name for r in index.records}
    assert [(b.path, b.reason) for b in index.bad_files] == [
        (str(root / "training_data" / "fold_1"), "cannot read the folder (Permission denied)")
    ]
