"""``allgui evaluate``: an exported model on a labelled class-folder tree,
figures with intervals, calibration and its own report, without torch in
the engine path it uses."""

from __future__ import annotations

import json
import shutil

import pytest

from allgui.cli import main
from allgui.core.errors import DatasetError
from allgui.core.validation.external import evaluate_model
from tests.support.onnx_models import export_tiny


@pytest.fixture()
def labelled(tmp_path, cnmc_samples):
    root = tmp_path / "other_centre"
    for label in ("all", "hem"):
        (root / label.upper()).mkdir(parents=True)  # case differs from the model's classes
        for p in sorted((cnmc_samples / label).glob("*.bmp")):
            shutil.copy(p, root / label.upper() / p.name)
    return root


def test_evaluate_writes_figures_intervals_and_report(tmp_path, labelled, capsys):
    _, exported = export_tiny(tmp_path / "m.onnx", temperature=1.7)
    out = tmp_path / "eval"
    assert main(["evaluate", exported.path, str(labelled), "--out", str(out), "--device", "cpu",
                 "--resamples", "60"]) == 0
    text = capsys.readouterr().out
    assert "Balanced accuracy" in text and "ECE" in text
    record = json.loads((out / "evaluation.json").read_text())
    assert record["images"] == 6 and record["temperature"] == pytest.approx(1.7)
    assert set(record["figures"]) >= {"accuracy", "balanced_accuracy", "f1_weighted"}
    assert record["calibration"]["ece"] >= 0
    assert record["interval_unit"] == "patient"  # C-NMC names carry patients
    assert "External validation" in (out / "evaluation.html").read_text()
    assert len((out / "predictions.csv").read_text().splitlines()) == 7


def test_unknown_class_is_said_plainly(tmp_path, labelled):
    _, exported = export_tiny(tmp_path / "m.onnx")
    (labelled / "ALL").rename(labelled / "blasts")
    with pytest.raises(DatasetError, match="does not know: 'blasts'"):
        evaluate_model(exported.path, labelled, device="cpu")
