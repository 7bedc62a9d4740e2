"""Labels by identity, not bytes (issue 25, cases 7, 8 and 9): links followed
once and never out of the dataset, the same bytes under two labels named a
contradiction, names that print alike one class, invisible characters
refused, and every name allgui writes in its CSV read back as it was."""

from __future__ import annotations

import os
import unicodedata

import numpy as np
from PIL import Image

from allgui.cli import main
from allgui.core.dataset.discover import discover
from allgui.core.dataset.summary import format_summary, summarize
from allgui.core.validation.predictions import Predictions, read_predictions, write_predictions


def _images(folder, n, shade, prefix="img"):
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        pixels = np.full((24, 24, 3), (shade + 7 * k) % 256, np.uint8)
        Image.fromarray(pixels).save(folder / f"{prefix}{k}.png")


def test_a_link_loop_in_a_class_folder_lists_nothing_twice(tmp_path):
    data = tmp_path / "data"
    _images(data / "all", 4, 10)
    _images(data / "hem", 4, 120)
    (data / "all" / "loop").symlink_to("..")  # all/loop -> the dataset itself
    (data / "hem" / "out").symlink_to(tmp_path)  # out of the dataset
    index = discover(data)
    assert len(index.records) == 8
    assert sorted(r.label for r in index.records) == ["all"] * 4 + ["hem"] * 4
    assert all(r.label == os.path.basename(os.path.dirname(r.path)) for r in index.records)
    reasons = {os.path.basename(b.path): b.reason for b in index.bad_files}
    assert "loop" in reasons["loop"] and "outside the dataset" in reasons["out"]


def test_the_same_bytes_under_two_labels_are_a_contradiction(tmp_path, capsys):
    data = tmp_path / "data"
    _images(data / "all", 3, 10)
    _images(data / "hem", 3, 120)
    (data / "hem" / "copy.png").write_bytes((data / "all" / "img0.png").read_bytes())
    summary = summarize(discover(data), decode=False)
    (group,) = summary.contradictions
    assert sorted(label for label, _ in group) == ["all", "hem"]
    assert "CONTRADICTING LABELS" in format_summary(summary)
    assert main(["data", "scan", str(data)]) == 0
    assert "CONTRADICTING LABELS" in capsys.readouterr().out


def test_class_names_that_print_alike_are_one_class(tmp_path):
    data = tmp_path / "data"
    nfc, nfd = unicodedata.normalize("NFC", "Präb"), unicodedata.normalize("NFD", "Präb")
    assert nfc != nfd
    _images(data / nfc, 2, 10, "a")
    _images(data / nfd, 2, 60, "b")
    _images(data / "ALL", 2, 120)
    _images(data / "al\u200bl", 2, 200)  # 'all' with a zero-width space inside
    _images(data / "hem\u200f", 2, 240)  # a right-to-left mark
    index = discover(data)
    assert index.classes == ("all", "präb")
    assert any("merged" in n and "Pr" in n for n in index.notes)
    refused = " ".join(b.reason for b in index.bad_files)
    assert "U+200B" in refused and "U+200F" in refused


def test_manifest_labels_that_differ_in_case_are_one_class(tmp_path):
    data = tmp_path / "data"
    _images(data / "x", 6, 10)
    rows = ["path,label"] + [f"x/img{k}.png,{lab}" for k, lab in
                             enumerate(["ALL", "all", "hem", "Hem", "hem", "a\u200dll"])]
    (data / "manifest.csv").write_text("\n".join(rows) + "\n")
    index = discover(data)
    assert index.classes == ("all", "hem")
    assert any("merged" in n for n in index.notes)
    assert any("U+200D" in b.reason for b in index.bad_files)


ODD = ["plain.png", "=HYPERLINK(1).png", "\u200fmark.png", "esc\x1b[2J.png",
       "back\\x41slash\\u0041.png", "C:\\new\\table.png", "'quoted.png",
       os.fsdecode(b"caf\xe9.png"), "c1\x85.png", "tab\tand\nnewline.png"]


def test_names_written_in_predictions_are_the_names_read_back(tmp_path):
    classes = ("all", "h\\x65m")
    preds = Predictions(tuple(f"/data/{n}" for n in ODD), tuple(f"P{n}" for n in ODD),
                        np.arange(len(ODD)) % 2, np.tile([[0.7, 0.3]], (len(ODD), 1)), classes)
    path = tmp_path / "predictions.csv"
    write_predictions(path, preds)
    text = path.read_text(encoding="utf-8")
    assert "\x1b" not in text and "\u200f" not in text and "\n=" not in text
    back = read_predictions(path, classes)
    assert back.paths == preds.paths and back.patients == preds.patients
    assert (back.labels == preds.labels).all()
