"""``allgui export`` and ``allgui classify`` as a user runs them."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
from PIL import Image

from allgui import RESEARCH_NOTICE
from allgui.cli import main
from allgui.core.events import Progress
from allgui.core.infer import read_model_info
from allgui.core.model.checkpoint import save_checkpoint
from allgui.core.project import Project, ProjectSettings
from allgui.core.validation.batch import Batch
from allgui.core.validation.metrics import compute_metrics
from allgui.core.validation.provenance import ModelRecord, SplitRecord, StudySummary
from allgui.core.validation.run_record import Configuration, RunRecord

from support.onnx_models import CLASSES, handmade_model, tiny_model


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, tiny_models):
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    tiny_models.export(path, metrics={"weighted_f1": 0.8}, test_set="held-out patients")
    return path


def test_classify_one_image(model_path, cnmc_samples, capsys, tiny_models):
    image = cnmc_samples / "all" / "UID_1_3_1_all.bmp"
    assert main(["classify", str(model_path), str(image), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert RESEARCH_NOTICE in out
    assert "runs on: CPUExecutionProvider" in out
    assert "weighted_f1 0.800 on held-out patients" in out
    row = next(line for line in out.splitlines() if line.startswith(str(image)))
    assert row.split()[1] in tiny_models.classes
    assert "1 classified" in out


def test_classify_folder_with_bad_files(model_path, cnmc_samples, tmp_path, capsys):
    folder = tmp_path / "cells"
    shutil.copytree(cnmc_samples, folder)
    (folder / "broken.bmp").write_bytes(b"BM not really")
    out_csv, heat = tmp_path / "out.csv", tmp_path / "heat"
    code = main(["classify", str(model_path), str(folder), "--csv", str(out_csv),
                 "--heatmaps", str(heat), "--margin", "0.5"])
    out = capsys.readouterr().out
    assert code == 0
    assert "6 classified" in out and "1 skipped" in out and "per patient:" in out
    with open(out_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 7
    assert [r["path"] for r in rows if r["error"]] == ["broken.bmp"]
    assert all(r["uncertain"] == ("yes" if float(r["margin"]) < 0.5 else "no")
               for r in rows if not r["error"])
    assert len(list(heat.rglob("*.png"))) == 6
    assert (tmp_path / "out_patients.csv").is_file()


def test_ctrl_c_saves_the_rows_finished_so_far(model_path, cnmc_samples, tmp_path, capsys,
                                               monkeypatch, tiny_models):
    """Ctrl+C (a real SIGINT, sent once the first batch is done) stops the run;
    the rows finished so far are in the CSV and the message says so."""
    import signal

    import allgui.cli.progress_printer as printer_module

    class InterruptAfterFirstBatch(printer_module.ProgressPrinter):
        def __call__(self, event):
            super().__call__(event)
            if isinstance(event, Progress) and event.done > 0:
                signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(printer_module, "ProgressPrinter", InterruptAfterFirstBatch)
    folder = tmp_path / "cells"
    for copy in ("a", "b"):  # 12 images: the first batch (8) ends before the last one
        shutil.copytree(cnmc_samples, folder / copy)
    out_csv = tmp_path / "out.csv"
    before = signal.getsignal(signal.SIGINT)
    code = main(["classify", str(model_path), str(folder), "--csv", str(out_csv),
                 "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 130
    assert "Stopped by the user after 8 of 12 images; the results so far were saved" in err
    assert str(out_csv) in err
    with open(out_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8 and all(r["class"] in tiny_models.classes for r in rows)
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl+C handed back


def test_plain_messages_for_bad_input(model_path, tmp_path, capsys):
    not_model = tmp_path / "x.onnx"
    not_model.write_text("hello")
    assert main(["classify", str(not_model), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "x.onnx is not an ONNX model" in err and "Traceback" not in err

    bad_image = tmp_path / "cell.bmp"
    bad_image.write_bytes(b"")
    assert main(["classify", str(model_path), str(bad_image)]) == 2
    err = capsys.readouterr().err
    assert "Cannot classify" in err and "empty file" in err

    assert main(["classify", str(model_path), str(tmp_path / "nope.bmp")]) == 2
    assert "does not exist" in capsys.readouterr().err


def _project(tmp_path):
    return Project.create(tmp_path / "proj", ProjectSettings())


def test_export_a_checkpoint_then_classify(tmp_path, cnmc_samples, capsys, tiny_models):
    project = _project(tmp_path)
    ckpt = tmp_path / "elsewhere" / "model.pt"
    model = tiny_models.model(seed=5)
    save_checkpoint(ckpt, model, model.config, {"positive_class": "all"},
                    class_names=tiny_models.classes, image_size=64)
    assert main(["export", str(project.root), "--checkpoint", str(ckpt)]) == 0
    out = capsys.readouterr().out
    exported = project.models_dir / "elsewhere.onnx"
    assert exported.is_file() and "checked on 4 images" in out and RESEARCH_NOTICE in out
    assert read_model_info(exported).input_size == 64

    # never overwrites without being asked
    assert main(["export", str(project.root), "--checkpoint", str(ckpt)]) == 2
    assert "already exists" in capsys.readouterr().err
    image = cnmc_samples / "hem" / "UID_H6_5_1_hem.bmp"
    assert main(["classify", str(exported), str(image)]) == 0


def test_export_without_validation_runs(tmp_path, capsys):
    project = _project(tmp_path)
    assert main(["export", str(project.root)]) == 2
    assert "no finished validation run" in capsys.readouterr().err


def test_export_chosen_run_of_a_validation(tmp_path, cnmc_samples, capsys, tiny_models):
    project = _project(tmp_path)
    batch_dir = project.runs_dir / "20260101-000000"
    images = [str(p) for p in sorted(cnmc_samples.rglob("*.bmp"))]
    labels = [0, 0, 0, 1, 1, 1]
    runs = []
    # run 1 is the better on the test set, run 2 on validation: run 2 is exported
    for index, f1_good, val_loss in ((1, True, [0.9, 0.7]), (2, False, [0.5, 0.6])):
        folder = batch_dir / f"run-{index}"
        model = tiny_models.model(seed=index)
        save_checkpoint(folder / "checkpoint.pt", model, model.config, class_names=tiny_models.classes,
                        image_size=64)
        probs = np.eye(2)[labels] if f1_good else np.eye(2)[[1, 0, 0, 1, 1, 0]]
        probs = probs * 0.8 + 0.1
        metrics = compute_metrics(labels, probs, tiny_models.classes, "all")
        runs.append(RunRecord("tuned", index, seed=index, status="finished",
                              folder=str(folder), epochs_run=2,
                              best_epoch=int(np.argmin(val_loss)) + 1, metrics=metrics,
                              curves={"val_loss": val_loss}))
    (batch_dir / "run-2" / "predictions.csv").write_text(
        "path,patient,true,predicted,p_all,p_hem\n"
        + "".join(f"{p},1,all,all,0.9,0.1\n" for p in images[:3])
    )
    batch = Batch(
        batch_id="20260101-000000", folder=str(batch_dir), created="2026-01-01T00:00:00+00:00",
        status="finished", tuned=Configuration({"lr": 1e-3}, "trial 7 (best of the study)", 7),
        baseline=None, seeds=(1, 2), max_epochs=2, patience=1, test_source="held-out",
        test_set="held-out patients (6 images)", classes=tiny_models.classes, positive_class="all",
        model=ModelRecord(), dataset_fingerprint="", split=SplitRecord(), environment={},
        study=StudySummary(name="demo-study"), runs=tuple(runs),
    )
    batch.save()

    assert main(["export", str(project.root)]) == 0  # lowest validation loss: run 2
    info = read_model_info(project.models_dir / "20260101-000000-run-2.onnx")
    assert (info.run, info.trial, info.study) == (2, 7, "demo-study")
    assert info.test_set == "held-out patients (6 images)"
    assert info.metrics["weighted_f1"] < 1.0  # its own test figure, not the best one
    assert "lowest validation loss" in info.selection and "no part" in info.selection
    assert info.batch_metrics["weighted_f1"]["runs"] == 2
    printed = capsys.readouterr().out
    assert "checked on 4 images" in printed and "chosen by the lowest validation loss" in printed

    out = tmp_path / "chosen.onnx"
    assert main(["export", str(project.root), "--run", "1", "--out", str(out)]) == 0
    assert read_model_info(out).run == 1
    assert main(["export", str(project.root), "--run", "9"]) == 2
    assert "finished runs: 1, 2" in capsys.readouterr().err


# -- issue 13: outputs, settings and odd images ------------------------------------------


def _cells(folder, n=2, side=40):
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        Image.fromarray(np.full((side, side, 3), 60 + 40 * k, np.uint8)).save(folder / f"c{k}.png")
    return folder


@pytest.mark.parametrize("force", [False, True])
def test_csv_never_replaces_an_input_or_the_model(tmp_path, capsys, force):
    model = handmade_model(tmp_path / "m.onnx")
    folder = _cells(tmp_path / "cells")
    image = folder / "c0.png"
    before = image.read_bytes(), model.read_bytes()
    extra = ["--force"] if force else []
    assert main(["classify", str(model), str(image), "--csv", str(image), *extra]) == 2
    assert "is one of this command's inputs" in capsys.readouterr().err
    assert main(["classify", str(model), str(folder), "--csv", str(model), *extra]) == 2
    assert "is one of this command's inputs" in capsys.readouterr().err
    assert (image.read_bytes(), model.read_bytes()) == before


def test_csv_replaces_a_foreign_file_only_with_force(tmp_path, capsys):
    model = handmade_model(tmp_path / "m.onnx")
    folder = _cells(tmp_path / "cells")
    notes = tmp_path / "notes.csv"
    notes.write_text("my own notes\n")
    assert main(["classify", str(model), str(folder), "--csv", str(notes)]) == 2
    assert "was not written by allgui" in capsys.readouterr().err
    assert notes.read_text() == "my own notes\n"
    other_model = tmp_path / "other.onnx"
    other_model.write_bytes(b"weights")
    assert main(["classify", str(model), str(folder), "--csv", str(other_model)]) == 2
    assert "is a model file" in capsys.readouterr().err
    assert main(["classify", str(model), str(folder), "--csv", str(notes), "--force"]) == 0
    assert notes.read_text().startswith("path,class,")
    # allgui's own CSV is rewritten on a second run, as before
    assert main(["classify", str(model), str(folder), "--csv", str(notes)]) == 0


def test_heatmaps_never_replace_foreign_files(tmp_path, capsys):
    model = handmade_model(tmp_path / "m.onnx")
    folder = _cells(tmp_path / "cells")
    heat = tmp_path / "heat"
    assert main(["classify", str(model), str(folder), "--heatmaps", str(heat)]) == 0
    assert main(["classify", str(model), str(folder), "--heatmaps", str(heat)]) == 0  # ours
    photo = heat / "c0.png.png"
    Image.new("RGB", (5, 5)).save(photo)  # the user's own picture, same name
    capsys.readouterr()
    assert main(["classify", str(model), str(folder), "--heatmaps", str(heat)]) == 2
    assert "was not written by allgui" in capsys.readouterr().err
    assert Image.open(photo).size == (5, 5)


def test_unwritable_heatmaps_folder_is_named_before_the_run(tmp_path, capsys):
    model = handmade_model(tmp_path / "m.onnx")
    folder = _cells(tmp_path / "cells")
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    for target in (blocker, blocker / "heat"):
        assert main(["classify", str(model), str(folder), "--heatmaps", str(target)]) == 2
        err = capsys.readouterr().err
        assert "heatmaps" in err and "Traceback" not in err


def test_a_full_disk_while_saving_heatmaps_exits_non_zero(tmp_path, capsys):
    """Files over 16 kB cannot be written (RLIMIT_FSIZE: the write fails as on a
    full disk): the heatmaps are not saved, the CSV is, and the exit says so."""
    import signal

    resource = pytest.importorskip("resource")

    model = handmade_model(tmp_path / "m.onnx")
    folder = tmp_path / "cells"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(2):  # noise: a heatmap figure far over 16 kB
        Image.fromarray(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(
            folder / f"c{k}.png")
    out_csv = tmp_path / "out.csv"
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16_000, hard))
    try:
        code = main(["classify", str(model), str(folder), "--csv", str(out_csv),
                     "--heatmaps", str(tmp_path / "heat")])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    err = capsys.readouterr().err
    assert code == 2
    assert "2 of 2 heatmaps could not be saved" in err
    assert len(list(csv.DictReader(open(out_csv, newline="")))) == 2


def test_tiny_images_get_no_answer(tmp_path, capsys):
    model = handmade_model(tmp_path / "m.onnx")
    folder = _cells(tmp_path / "cells", n=1)
    Image.new("RGB", (1, 1), (200, 10, 10)).save(folder / "dot.png")
    Image.new("RGB", (8, 60)).save(folder / "sliver.png")
    out_csv = tmp_path / "out.csv"
    assert main(["classify", str(model), str(folder), "--csv", str(out_csv)]) == 0
    rows = {r["path"]: r for r in csv.DictReader(open(out_csv, newline=""))}
    for name in ("dot.png", "sliver.png"):
        assert rows[name]["class"] == "" and "image too small to classify" in rows[name]["error"]
    assert rows["c0.png"]["class"] in CLASSES
    capsys.readouterr()
    assert main(["classify", str(model), str(folder / "dot.png")]) == 2
    assert "too small to classify (1 x 1 px" in capsys.readouterr().err


def test_classify_margin_is_checked_and_the_one_applied_is_shown(tmp_path, capsys):
    model = handmade_model(tmp_path / "m.onnx", uncertain_margin=0.2)
    image = _cells(tmp_path / "cells", n=1) / "c0.png"
    for bad in ("5", "-1", "nan", "inf"):
        assert main(["classify", str(model), str(image), "--margin", bad]) == 2
        assert "--margin must be at least 0 and below 1" in capsys.readouterr().err
    assert main(["classify", str(model), str(image), "--margin", "0.45"]) == 0
    out = capsys.readouterr().out
    assert "margin < 0.45" in out and "margin < 0.2" not in out
    assert "UNCERTAIN" in out  # 0.7 - 0.3 = 0.4 < 0.45


def test_export_refuses_thresholds_and_margins_that_are_not_probabilities(tmp_path, capsys):
    project = _project(tmp_path)
    ckpt = tmp_path / "elsewhere" / "model.pt"
    model = tiny_model(seed=5)
    save_checkpoint(ckpt, model, model.config, {"positive_class": "all"},
                    class_names=CLASSES, image_size=64)
    for flag, value in (("--threshold", "5"), ("--threshold", "50"), ("--threshold", "nan"),
                        ("--threshold", "0"), ("--margin", "-1"), ("--margin", "inf")):
        assert main(["export", str(project.root), "--checkpoint", str(ckpt), flag, value]) == 2
        assert f"{flag} must be" in capsys.readouterr().err
    assert not list(project.models_dir.glob("*.onnx"))  # nothing stored


def test_export_engine_refuses_nan_settings():
    from allgui.core.errors import AllguiError
    from allgui.core.export.onnx import ExportMetadata

    for bad in ({"decision_threshold": float("nan")}, {"uncertain_margin": float("nan")},
                {"uncertain_margin": -0.5}, {"decision_threshold": float("inf")}):
        with pytest.raises(AllguiError, match="must be"):
            ExportMetadata(**bad)
