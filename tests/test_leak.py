"""The leak, measured (issue 23, Build 5): one command runs the project's
protocol with the image split and with the patient split on the same data,
through the engine's own search and validation, and says how much the image
split inflates validation and what the test set says; the report shows it. On
data without patient IDs it refuses plainly. Tiny settings, CPU."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest
import torch

from allgui.cli import main
from allgui.core.project import (
    DatasetSettings,
    ModelSettings,
    Project,
    ProjectSettings,
    SplitSettings,
)
from allgui.core.validation.batch import latest_batch
from allgui.core.validation.predictions import read_predictions

torch.set_num_threads(1)
TINY = ["--trials", "3", "--epochs", "2", "--views", "2", "--startup-trials", "2",
        "--runs", "2", "--run-epochs", "2", "--device", "cpu", "--quiet"]


def _check_against_the_arms(project: Project, result) -> None:
    """Every figure leak.json holds, recomputed from the arms' own files."""
    for outcome in (result.image, result.patient):
        arm = Project.open(outcome.folder)
        assert arm.settings.split.method == outcome.split
        assert arm.root.parent == project.root / "leak"
        study = optuna.load_study(study_name="search", storage=arm.storage_url)
        assert outcome.best_trial == study.best_trial.number
        assert outcome.best_value == pytest.approx(study.best_value)
        batch = latest_batch(arm)
        accs = [float(np.mean(read_predictions(r.predictions_path, batch.classes).correct))
                for r in batch.runs_of("tuned")]
        assert outcome.test_accuracy.mean == pytest.approx(np.mean(accs))
        assert outcome.test_accuracy.n == 2
    assert result.patient.patients_in_two_parts == 0
    assert result.image.test_set == result.patient.test_set  # the same official test set
    assert result.validation_inflation == pytest.approx(
        result.image.best_value - result.patient.best_value)


def test_leak_on_the_demo_through_the_command_and_the_report(tmp_path, make_tiny_project, capsys):
    from allgui.core.report.build import write_report
    from allgui.core.validation.leak import load_leak

    project = make_tiny_project(tmp_path)
    project.update(split=SplitSettings(method="image"))
    assert main(["leak", str(project.root), *TINY]) == 0
    out = capsys.readouterr().out
    result = load_leak(project)
    _check_against_the_arms(project, result)
    assert result.image.patients_in_two_parts > 0  # the image split let patients cross
    assert "The leak, measured" in out and "image - patient" in out
    assert result.summary() in out.replace("\n", " ") or result.summary()[:60] in out
    assert json.loads((project.root / "leak" / "leak.json").read_text())["settings"]["trials"] == 3
    files = write_report(project, pdf=False, resamples=50)
    html = files.html.read_text(encoding="utf-8")
    assert "The leak, measured" in html and f"{result.validation_inflation:+.4f}" in html
    # run again: both arms are finished, so nothing trains and the figures stay
    assert main(["leak", str(project.root), *TINY]) == 0
    assert load_leak(project).image.best_value == result.image.best_value


def test_leak_on_a_cnmc_shaped_tree(tmp_path, shared_fixtures):
    """The shared C-NMC file list (every 40th path) with generated pixels."""
    from allgui.core.validation.leak import LeakSettings, measure_leak
    from tests.support.cnmc_tree import write_cnmc_tree

    write_cnmc_tree(shared_fixtures / "cnmc_file_list.txt", tmp_path / "cnmc", size=8, every=40)
    project = Project.create(tmp_path / "p", ProjectSettings(
        dataset=DatasetSettings(str(tmp_path / "cnmc"), 32),
        model=ModelSettings(backbone="test_efficientnet", weights="none")))
    result = measure_leak(project, LeakSettings(trials=2, epochs=2, views=1, startup_trials=1,
                                                runs=2, run_epochs=2, device="cpu"))
    _check_against_the_arms(project, result)
    assert "preliminary" in result.image.test_set.lower() or "official" in \
        result.image.test_set.lower()


def test_no_patient_ids_is_refused_plainly(tmp_path, capsys):
    from PIL import Image

    for label in ("benign", "malignant"):
        folder = tmp_path / "data" / label
        folder.mkdir(parents=True)
        for k in range(4):
            Image.new("RGB", (16, 16), (k * 40, 10, 10)).save(folder / f"{k}.png")
    project = Project.create(tmp_path / "p", ProjectSettings(
        dataset=DatasetSettings(str(tmp_path / "data"), 32)))
    assert main(["leak", str(project.root), *TINY]) == 2
    err = capsys.readouterr().err
    assert "cannot be measured on this dataset" in err and "no patient IDs" in err
    assert not (project.root / "leak").exists()  # nothing made
