"""Text from a file's maker (model metadata, file names) reaches the terminal
and the CSV escaped: no escape sequences obeyed, no spreadsheet formulas, no
crash on a name that is not UTF-8 (issue 13, cases 7, 8, 18)."""

from __future__ import annotations

import csv
import io
import os
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from allgui.cli import main
from allgui.core.files.text import TerminalStream, csv_cell, csv_value, terminal_text

from support.onnx_models import handmade_model

ESC = "\x1b"


def test_terminal_text_escapes_what_could_steer_the_terminal():
    assert terminal_text("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert terminal_text("x\x07\x7f\x9b\t\r\n") == "x\\x07\\x7f\\x9b\\t\\r\\n"
    assert terminal_text("abc\u202edcba") == "abc\\u202edcba"  # right-to-left override
    assert terminal_text(os.fsdecode(b"caf\xe9.bmp")) == "caf\\xe9.bmp"  # not UTF-8
    assert terminal_text(b"caf\xe9") == "caf\\xe9"
    assert terminal_text("Zellkern_\u00e9\u4e2d.bmp") == "Zellkern_\u00e9\u4e2d.bmp"  # untouched


def test_csv_cells_never_start_a_formula():
    for text in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "\uff1dx"):
        cell = csv_cell(text)
        assert cell.startswith("'") and ESC not in cell
    assert csv_cell("UID_1_1_1_all.bmp") == "UID_1_1_1_all.bmp"
    assert csv_cell(0.25) == 0.25 and csv_cell(3) == 3
    assert csv_value(csv_cell("=cmd")) == "=cmd"


@given(st.text())
def test_csv_cells_round_trip(text):
    # every text, controls, bidi marks, backslashes and undecodable bytes included
    assert csv_value(csv_cell(text)) == text
    assert csv_cell(text)[:1] not in set("=+-@")


def test_terminal_stream_keeps_allgui_own_layout():
    out = io.StringIO()
    TerminalStream(out).write("line\n\rprogress\tcol \x1b[31mred " + os.fsdecode(b"\xff") + "\n")
    assert out.getvalue() == "line\n\rprogress\tcol \\x1b[31mred \\xff\n"


FAKE = "\x1b[2K\rCLINICALLY VALIDATED (fake)"


def _hostile_model(tmp_path):
    return handmade_model(
        tmp_path / "hostile.onnx", (0.8, 0.2),
        classes=["=HYPERLINK(\"http://x\")\x1b[2J", "@hem\u202e"],
        positive_class="=HYPERLINK(\"http://x\")\x1b[2J",
        study="\x1b]0;owned\x07", research_notice=FAKE, backbone="net\x1b[8m",
    )


def _images(folder, names):
    folder.mkdir()
    for k, name in enumerate(names):
        target = os.path.join(os.fsencode(folder), name if isinstance(name, bytes)
                              else os.fsencode(name))
        Image.fromarray(np.full((40, 40, 3), 40 * k, np.uint8)).save(
            os.fsdecode(target), format="PNG")
    return folder


def test_hostile_metadata_and_names_are_printed_escaped(tmp_path, capsys):
    model = _hostile_model(tmp_path)
    folder = _images(tmp_path / "cells", ["a\x1b[31mred.png", "=1+1.png", "-2.png"])
    code = main(["classify", str(model), str(folder), "--device", "cpu"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert ESC not in out.out and ESC not in out.err and "\u202e" not in out.out
    assert "\\x1b[2K\\rCLINICALLY VALIDATED (fake)" in out.out  # shown, not obeyed
    assert "a\\x1b[31mred.png" in out.out and "study \\x1b]0;owned\\x07" in out.out


def test_results_csv_holds_no_formulas(tmp_path, capsys):
    model = _hostile_model(tmp_path)
    folder = _images(tmp_path / "cells", ["=1+1.png", "+SUM(1).png", "-2.png", "@x.png"])
    out_csv = tmp_path / "out.csv"
    assert main(["classify", str(model), str(folder), "--csv", str(out_csv)]) == 0
    with open(out_csv, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c[:1] in set("=+-@\t\r")]
    assert ESC not in out_csv.read_text(encoding="utf-8")
    assert {r[0] for r in rows[1:]} == {"'=1+1.png", "'+SUM(1).png", "'-2.png", "'@x.png"}
    assert rows[1][1].startswith("'=HYPERLINK")  # the class name, as text


BYTE_NAMES = pytest.mark.skipif(sys.platform in ("win32", "darwin"),
                                reason="this file system takes only Unicode names")


@BYTE_NAMES
def test_names_that_are_not_utf8_still_give_a_csv(tmp_path, capsys):
    model = handmade_model(tmp_path / "m.onnx")
    folder = _images(tmp_path / "cells", [b"caf\xe9.png", b"ok.png"])
    out_csv = tmp_path / "out.csv"
    assert main(["classify", str(model), str(folder), "--csv", str(out_csv)]) == 0
    out = capsys.readouterr().out
    assert "caf\\xe9.png" in out and "2 classified" in out
    with open(out_csv, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["path"] for r in rows) == ["caf\\xe9.png", "ok.png"]
    assert all(r["class"] == "all" for r in rows)


@BYTE_NAMES
@pytest.mark.parametrize("single", [True, False])
def test_a_single_file_with_an_odd_name(tmp_path, capsys, single):
    model = handmade_model(tmp_path / "m.onnx")
    folder = _images(tmp_path / "cells", [b"\xff\x1b[2J.png"])
    target = os.path.join(os.fsencode(folder), b"\xff\x1b[2J.png")
    args = [os.fsdecode(target)] if single else [str(folder)]
    assert main(["classify", str(model), *args]) == 0
    out = capsys.readouterr().out
    assert "\\xff\\x1b[2J.png" in out and ESC not in out


def test_predictions_csv_holds_no_formulas_and_reads_back(tmp_path):
    """Every CSV allgui writes: the validation's predictions too, read back intact."""
    from allgui.core.validation.predictions import (
        Predictions,
        read_predictions,
        write_predictions,
    )

    classes = ("=all", "@hem")
    preds = Predictions(paths=("-1.bmp", "/data/=x.bmp"), patients=("+7", "8"),
                        labels=np.asarray([0, 1]), probabilities=np.asarray([[0.9, 0.1],
                                                                              [0.2, 0.8]]),
                        classes=classes)
    path = tmp_path / "predictions.csv"
    write_predictions(path, preds)
    with open(path, newline="", encoding="utf-8") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert not [c for c in cells if c[:1] in set("=+-@")]
    back = read_predictions(path, classes)
    assert back.paths == preds.paths and back.patients == preds.patients
    assert back.labels.tolist() == [0, 1]
