"""Issue 26 (the whole flow in the window, never silent for 10 s): every phase
that takes tens of seconds on a busy CPU reports moving progress, counted in
events (never in time): the statistics of a validation batch, which ran after
the batch had finished without a word (27 s on the demo, behind a stale
"features [470/470]" line); the export's conversion and check; the backbone's
preparation before its first image."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from allgui.core.events import EventLog, JobFinished, JobStarted, Progress
from allgui.core.export.onnx import ExportMetadata, export_onnx
from allgui.core.validation.analysis import analyse
from allgui.core.validation.batch import (
    PROBE,
    TUNED,
    Batch,
    Configuration,
    Predictions,
    RunRecord,
    write_predictions,
)
from allgui.core.validation.metrics import compute_metrics
from allgui.core.validation.provenance import ModelRecord, SplitRecord, StudySummary

CLASSES = ("all", "hem")


def _runs(tmp_path, label: str, seeds: int, n: int = 30) -> tuple[RunRecord, ...]:
    labels = np.arange(n) % 2
    runs = []
    for seed in range(seeds):
        proba = np.random.default_rng(seed).dirichlet(np.ones(2), n)
        folder = tmp_path / f"{label}-{seed}"
        folder.mkdir()
        write_predictions(folder / "predictions.csv", Predictions(
            tuple(f"img{i}.png" for i in range(n)), tuple("" for _ in range(n)), labels, proba,
            CLASSES))
        runs.append(RunRecord(label, seed + 1, seed, "finished", str(folder), 2, 1,
                              metrics=compute_metrics(labels, proba, CLASSES, CLASSES[0]),
                              curves={"val_loss": [0.5, 0.4]}))
    return tuple(runs)


def _batch(tmp_path) -> Batch:
    tuned, probe = _runs(tmp_path, TUNED, 2), _runs(tmp_path, PROBE, 2)
    return Batch(
        batch_id="b", folder=str(tmp_path), created="2026-01-01T00:00:00+00:00",
        status="finished", tuned=Configuration({"lr": 1e-3}, "trial 1", 1), baseline=None,
        seeds=(0, 1), max_epochs=2, patience=1, test_source="held-out",
        test_set="held-out part", classes=CLASSES, positive_class=CLASSES[0],
        model=ModelRecord(), dataset_fingerprint="", split=SplitRecord(), environment={},
        study=StudySummary(name="s"), runs=tuned,
        probe=Configuration({"C": 1.0}, "linear probe"), probe_runs=probe)


def test_a_batch_s_statistics_report_their_bootstrap_as_it_goes(tmp_path):
    """Tuned and probe runs: three bootstraps (tuned, probe, the paired
    difference) of 200 resamples each; the bar moves every 2% of them and ends
    full, inside one job of its own."""
    log = EventLog()
    analysis = analyse(_batch(tmp_path), resamples=200, sink=log)
    steps = [e for e in log.of_type(Progress) if e.phase == "statistics"]
    assert len(steps) >= 40
    assert all(e.total == 3 * 200 for e in steps)
    done = [e.done for e in steps]
    assert done == sorted(done) and done[-1] == steps[-1].total
    assert len(log.of_type(JobStarted)) == 1 and len(log.of_type(JobFinished)) == 1
    # the figures are those of an analysis nobody listened to
    (tmp_path / "again").mkdir()
    quiet = analyse(_batch(tmp_path / "again"), resamples=200)
    assert analysis.row("accuracy").test == quiet.row("accuracy").test


def test_a_batch_s_statistics_stop_when_asked(tmp_path):
    """The window reads a batch's statistics on a job of its own after every
    run; closing the window stops its jobs and waited 10 s, then for the
    whole bootstrap (32 s on the real smears): the bootstrap stops when asked."""
    import threading

    from allgui.core.errors import Cancelled

    cancel = threading.Event()
    cancel.set()
    log = EventLog()
    with pytest.raises(Cancelled):
        analyse(_batch(tmp_path), resamples=200, sink=log, cancel=cancel)
    assert log.of_type(JobFinished)[-1].stopped
    assert not [e for e in log.of_type(Progress) if e.phase == "statistics"]


@pytest.fixture
def often(monkeypatch):
    """The heartbeat every millisecond: any step that takes longer than a few
    milliseconds (an ONNX export takes far longer) is said more than once."""
    from allgui.core import events

    monkeypatch.setattr(events, "HEARTBEAT_S", 0.001)


def test_each_export_step_is_said_while_its_one_call_runs(tmp_path, tiny_models, often):
    """The conversion to ONNX and the check against torch are single calls
    (20-40 s each for a 224-px EfficientNet on a busy CPU): each is said again
    as it goes, with the seconds it has taken, not once at its start."""
    log = EventLog()
    export_onnx(tiny_models.model(), tmp_path / "m.onnx",
                ExportMetadata(classes=tiny_models.classes), input_size=64, sink=log)
    steps = [e for e in log.of_type(Progress) if e.phase == "export"]
    converting = [e for e in steps if e.message.startswith("converting to ONNX")]
    checking = [e for e in steps if e.message.startswith("checking onnxruntime")]
    assert len(converting) >= 2 and len(checking) >= 2
    assert steps[-1].done == steps[-1].total == 3


def test_the_backbone_s_preparation_is_said_before_the_first_image(tmp_path, often):
    """Before the first image goes through the backbone, the runner is exported,
    loaded and checked against torch: said every few seconds, not silent."""
    from allgui.core.model.classifier import ModelConfig, build_model
    from allgui.core.train import runtime as R
    from allgui.core.train.features import build_feature_set

    from support.training_data import make_data

    R.forget_sessions()
    data = make_data(12, 4, size=32)
    model = build_model(ModelConfig(backbone="test_efficientnet", weights="none", hidden=8))
    said: list[int] = []
    counted: list[int] = []
    build_feature_set(model, data.train_images, data.val_images, views=1, seed=0,
                      device=torch.device("cpu"), cache_dir=tmp_path, features="onnxruntime",
                      progress=lambda done, total: counted.append(done),
                      preparing=said.append)
    assert len(said) >= 2 and said == sorted(said)
    assert counted[-1] == 12 + 4


def test_evaluate_s_bootstrap_moves_every_2_percent():
    """Evaluate's intervals on 120 smears of four classes took 9 s per 50
    resamples on a busy CPU: the bar moves every 20 (2% of 1000)."""
    from allgui.core.validation.external import bootstrap_intervals

    rng = np.random.default_rng(0)
    labels = np.arange(40) % 2
    proba = rng.dirichlet(np.ones(2), 40)
    log = EventLog()
    bootstrap_intervals(labels, proba, CLASSES, CLASSES[0], tuple("" for _ in labels),
                        resamples=100, sink=log)
    steps = [e.done for e in log.of_type(Progress) if e.phase == "bootstrap intervals"]
    assert len(steps) >= 5 and steps[-1] == 100


def test_the_look_for_near_duplicates_is_said_as_it_goes(tmp_path, make_tiny_project):
    """After the image cache's bar ends, every image is read back and compared
    for near-duplicates (20 s on 800 smears, silent): it reports its own progress."""
    from allgui.core.dataset.prepared import LOOK_ALIKE, prepare_project_data

    log = EventLog()
    prepared = prepare_project_data(make_tiny_project(tmp_path), log)
    steps = [e for e in log.of_type(Progress) if e.phase == LOOK_ALIKE]
    n = len(prepared.train) + len(prepared.val) + len(prepared.test)
    assert len(steps) >= 10
    assert [e.done for e in steps] == sorted(e.done for e in steps)
    assert steps[-1].done == steps[-1].total == n
