"""Every engine job that starts ends exactly once, also when it fails or is
stopped (events.job): a front end that counts running jobs never keeps one
that has ended."""

from __future__ import annotations

import threading

import pytest

from allgui.core.errors import AllguiError, Cancelled, DatasetError
from allgui.core.events import EventLog, JobFinished, JobStarted

from support.onnx_models import CLASSES, export_tiny, tiny_model


def _ended_once(log: EventLog, *, stopped: bool = False) -> JobFinished:
    """The one JobFinished of the one job in ``log``, which did not succeed."""
    starts, ends = log.of_type(JobStarted), log.of_type(JobFinished)
    assert len(starts) == 1 and len(ends) == 1, [type(e).__name__ for e in log.events]
    end = ends[0]
    assert end.job == starts[0].job and not end.ok and end.stopped == stopped
    assert log.events[-1] is end  # nothing of the job follows its end
    return end


def _stopped() -> threading.Event:
    cancel = threading.Event()
    cancel.set()
    return cancel


def test_a_scan_of_a_file_that_is_no_manifest_ends_once(tmp_path):
    from allgui.core.dataset.discover import discover

    (tmp_path / "cells.txt").write_text("not a manifest")
    log = EventLog()
    with pytest.raises(DatasetError, match="is a file"):
        discover(tmp_path / "cells.txt", sink=log)
    assert "is a file" in _ended_once(log).message


def test_a_cache_build_that_cannot_write_ends_once(tmp_path, cnmc_samples):
    from allgui.core.dataset.cache import ImageCache

    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "images").write_text("a file where the cache's folder goes")
    log = EventLog()
    with pytest.raises(OSError):
        ImageCache(tmp_path / "cache", 32, workers=1).build(
            [str(p) for p in sorted(cnmc_samples.rglob("*.bmp"))], sink=log)
    _ended_once(log)


def test_a_stopped_summary_ends_once_as_stopped(cnmc_samples):
    from allgui.core.dataset.discover import discover
    from allgui.core.dataset.summary import summarize

    index = discover(cnmc_samples)
    log = EventLog()
    with pytest.raises(Cancelled):
        summarize(index, sink=log, cancel=_stopped(), workers=1)
    _ended_once(log, stopped=True)


def test_a_stopped_demo_dataset_ends_once_as_stopped(tmp_path):
    from allgui.core.dataset.demo import make_demo_dataset

    log = EventLog()
    with pytest.raises(Cancelled):
        make_demo_dataset(tmp_path / "demo", size=16, sink=log, cancel=_stopped())
    assert "run it again" in _ended_once(log, stopped=True).message


def test_a_failed_export_ends_once(tmp_path):
    from allgui.core.export.onnx import ExportMetadata, export_onnx

    log = EventLog()
    with pytest.raises(AllguiError, match="3 class names"):
        export_onnx(tiny_model(), tmp_path / "m.onnx", ExportMetadata(classes=("a", "b", "c")),
                    sink=log)
    assert "3 class names" in _ended_once(log).message


def test_a_classification_that_cannot_write_its_results_ends_once(tmp_path, cnmc_samples):
    from allgui.core.infer import Classifier
    from allgui.core.infer.folder import classify_files

    export_tiny(tmp_path / "tiny.onnx", classes=CLASSES)
    (tmp_path / "taken").write_text("a file where the results' folder goes")
    log = EventLog()
    with pytest.raises(AllguiError, match="Cannot write the results"):
        classify_files(Classifier(tmp_path / "tiny.onnx", device="cpu"),
                       sorted(cnmc_samples.rglob("*.bmp"))[:2],
                       tmp_path / "taken" / "results.csv", sink=log)
    assert log.events == []  # refused before the job starts: no job to end


def test_a_classification_whose_model_fails_mid_run_ends_once(tmp_path, cnmc_samples):
    from allgui.core.errors import ModelFileError
    from allgui.core.infer import Classifier
    from allgui.core.infer.folder import classify_files

    from support.onnx_models import handmade_model

    model = handmade_model(tmp_path / "nan.onnx", (float("nan"), 0.5))
    log = EventLog()
    with pytest.raises(ModelFileError, match="invalid probabilities"):
        classify_files(Classifier(model, device="cpu"), sorted(cnmc_samples.rglob("*.bmp"))[:2],
                       sink=log)
    _ended_once(log)


def test_a_report_that_cannot_be_written_ends_once(tmp_path):
    from allgui.core.files.outputs import OutputError
    from allgui.core.project import Project, ProjectSettings
    from allgui.core.report.build import write_report

    project = Project.create(tmp_path / "project", ProjectSettings())
    (tmp_path / "taken").write_text("a file where the report's folder goes")
    log = EventLog()
    with pytest.raises(OutputError, match="is a file, not a folder"):
        write_report(project, pdf=False, out_dir=tmp_path / "taken", resamples=10, sink=log)
    _ended_once(log)
