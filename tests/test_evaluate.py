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
    assert set(record["figures"]) >= {"accuracy", "balanced_accuracy", "weighted_f1"}
    assert record["calibration"]["ece"] >= 0
    assert record["interval_unit"] == "patient"  # C-NMC names carry patients
    assert "External validation" in (out / "evaluation.html").read_text()
    assert len((out / "predictions.csv").read_text().splitlines()) == 7


def test_unknown_class_is_said_plainly(tmp_path, labelled):
    _, exported = export_tiny(tmp_path / "m.onnx")
    (labelled / "ALL").rename(labelled / "blasts")
    with pytest.raises(DatasetError, match="does not know: 'blasts'"):
        evaluate_model(exported.path, labelled, device="cpu")


def test_every_figure_gets_an_interval_per_class_too():
    import numpy as np

    from allgui.core.validation.external import bootstrap_intervals

    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 30)
    proba = np.clip(rng.normal(0.3 + 0.4 * labels, 0.2), 0.01, 0.99)
    proba = np.stack([1 - proba, proba], axis=1)
    intervals, unit = bootstrap_intervals(labels, proba, ("a", "b"), "b", (), resamples=100)
    assert unit == "image"
    for key in ("accuracy", "balanced_accuracy", "weighted_f1", "f1_macro", "auc_roc",
                "recall[a]", "specificity[b]", "precision[b]", "f1[a]"):
        low, high = intervals[key]
        assert 0 <= low <= high <= 1, key


def test_the_report_never_goes_over_an_input_or_into_the_images(tmp_path):
    from allgui.core.files.outputs import OutputError
    from allgui.core.report.external import (
        check_report_folder,
        default_report_folder,
        earlier_report,
    )

    data = tmp_path / "centre" / "images"
    (data / "ALL").mkdir(parents=True)
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x")
    # beside the model, never in the labelled data (issue 28, item 4)
    assert default_report_folder(model, data) == tmp_path / "evaluation-m"
    manifest = tmp_path / "lists" / "predictions.csv"  # a manifest named as the report's CSV
    manifest.parent.mkdir()
    manifest.write_text("path,label\n")
    assert default_report_folder(model, manifest) == tmp_path / "evaluation-m"
    with pytest.raises(OutputError, match="one of this command's inputs"):
        check_report_folder(manifest.parent, model, manifest, replace=True)
    with pytest.raises(OutputError, match="inside the labelled folder"):
        check_report_folder(data / "ALL" / "report", model, data)
    out = check_report_folder(tmp_path / "out", model, data)
    assert out.is_dir() and earlier_report(out) == ()
    (out / "evaluation.json").write_text("{}")
    with pytest.raises(OutputError, match="earlier report"):
        check_report_folder(out, model, data)
    assert check_report_folder(out, model, data, replace=True) == out
