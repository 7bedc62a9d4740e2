"""``allgui optimize`` end to end on tiny demo data (CPU, tiny backbone)."""

from __future__ import annotations

import optuna
import torch

from allgui.cli import main
from allgui.core.dataset.demo import make_demo_dataset
from allgui.core.project import Project

torch.set_num_threads(1)


def test_optimize_runs_continues_and_prints_the_table(tmp_path, capsys):
    data = make_demo_dataset(tmp_path / "demo", patients_all=3, patients_hem=3,
                             images_per_patient=4, size=32, unlabelled_images=0, folds=1)
    assert main(["new", str(tmp_path / "proj"), "--data", str(data), "--image-size", "32"]) == 0
    capsys.readouterr()
    args = ["optimize", str(tmp_path / "proj"), "--backbone", "test_efficientnet",
            "--weights", "none", "--trials", "2", "--epochs", "2", "--views", "2",
            "--startup-trials", "1", "--device", "cpu"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "Best trials of study 'search'" in out
    assert "learning rate" in out and "2 complete, 0 pruned, 0 failed" in out
    # the report's importances: fANOVA over seeds beside PED-ANOVA, and the warning
    assert "fANOVA, mean \u00b1 SD over 5 seeds" in out and "PED-ANOVA" in out
    assert "warning: Only 2 complete trials" in out
    assert "importances: 6 of 6" in err  # progress while they compute
    assert "trial #1 (2/2)" in err and "Search finished" in err
    assert "not for diagnosis" in err.lower()

    project = Project.open(tmp_path / "proj")
    assert project.settings.model.backbone == "test_efficientnet"  # saved for next time
    assert project.settings.search["trials"] == 2
    # Asking for more trials continues the same study.
    assert main(["optimize", str(tmp_path / "proj"), "--trials", "3"]) == 0
    study = optuna.load_study(study_name="search", storage=project.storage_url)
    assert len(study.trials) == 3
    assert "1 trial to run" in capsys.readouterr().err


def test_optimize_says_plainly_what_is_wrong(tmp_path, capsys):
    assert main(["optimize", str(tmp_path / "nothing")]) == 2
    assert "is not an allgui project" in capsys.readouterr().err


def test_a_search_that_cannot_start_does_not_say_finished(tmp_path, capsys):
    data = make_demo_dataset(tmp_path / "demo", patients_all=3, patients_hem=3,
                             images_per_patient=4, size=32, unlabelled_images=0, folds=1)
    assert main(["new", str(tmp_path / "proj"), "--data", str(data), "--image-size", "32"]) == 0
    capsys.readouterr()
    # A weights file that exists but holds no weights fails inside the search's job
    # (a missing one is refused before the search: tests/test_settings_refused.py).
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(b"not weights")
    assert main(["optimize", str(tmp_path / "proj"), "--backbone", "test_efficientnet",
                 "--weights", str(damaged), "--trials", "1", "--epochs", "1",
                 "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "Search ended on an error: 0 complete" in err and "Search finished" not in err
    assert "cannot be read" in err
