"""Cached features through onnxruntime, OpenVINO or torch: the same numbers, the path
recorded, a mismatching export refused; the faster augmentation gives the
reference's numbers; searches and validations end the same either way."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from allgui.core.events import EventLog, Notice
from allgui.core.machine import physical_cores
from allgui.core.model.classifier import ModelConfig, build_model
from allgui.core.project import ModelSettings, Project, ProjectSettings
from allgui.core.train import openvino_engine as ov_engine
from allgui.core.train import runtime as R
from allgui.core.train.augment import (
    affine_grid,
    model_input,
    normalise,
    random_affine_matrices,
    to_float_nchw,
    view_generator,
)
from allgui.core.train.device import head_threads
from allgui.core.train.features import build_feature_set, plain_features, weights_fingerprint
from allgui.core.train.loop import FitConfig, HyperParams, TrainSettings, fit
from allgui.core.train.sources import CachedViews

from support.training_data import make_data

torch.set_num_threads(1)
CPU = torch.device("cpu")
CONFIG = ModelConfig(backbone="test_efficientnet", weights="none", hidden=16)
SMALL = ModelConfig(backbone="mobilenetv3_small_050", weights="none", hidden=8)


def _close(a, b, rel=1e-4):
    a, b = np.asarray(a), np.asarray(b)
    scale = max(float(np.abs(b).max()), 1e-6)
    return float(np.abs(a - b).max()) <= rel * scale


CPU_ENGINES = ("onnxruntime (CPU, ", "OpenVINO (CPU, ")  # 'auto': OpenVINO where installed
ENGINES = [pytest.param("onnxruntime", "onnxruntime (CPU, ", id="onnxruntime"),
           pytest.param("openvino", "OpenVINO (CPU, ", id="openvino", marks=pytest.mark.skipif(
               not ov_engine.installed(), reason="OpenVINO is not installed (the extra)"))]


@pytest.mark.parametrize("engine,prefix", ENGINES)
@pytest.mark.parametrize("config", [CONFIG, SMALL], ids=["test_efficientnet", "mobilenetv3"])
def test_engine_features_match_torch_and_name_their_path(tmp_path, config, engine, prefix):
    R.forget_sessions()
    data = make_data(24, 8, size=64 if config is SMALL else 32)
    model = build_model(config)
    kw = dict(views=2, seed=3, device=CPU, cache_dir=tmp_path)
    fast = build_feature_set(model, data.train_images, data.val_images, features=engine, **kw)
    slow = build_feature_set(model, data.train_images, data.val_images, features="torch", **kw)
    assert fast.path.startswith(prefix) and fast.path.endswith("fp32)") and not fast.notice
    assert slow.path.startswith("torch (CPU, ")
    assert fast.key != slow.key  # each path its own cache entry
    for a, b in zip(fast.train_views, slow.train_views, strict=True):
        assert _close(a, b)
    assert _close(fast.val, slow.val)
    meta = json.loads((tmp_path / "features" / fast.key / "meta.json").read_text())
    assert meta["path"] == fast.path
    files = list((tmp_path / "backbones").glob("*.onnx"))
    assert len(files) == 1  # exported once, kept in the cache
    stamp = files[0].stat().st_mtime_ns
    R.forget_sessions()
    again = build_feature_set(model, data.train_images, data.val_images, features=engine, **kw)
    assert files[0].stat().st_mtime_ns == stamp  # read back, not exported again
    assert again.key == fast.key and again.path == fast.path
    test, path = plain_features(model, data.val_images, CPU, cache_dir=tmp_path,
                                features=engine)
    assert path == fast.path and _close(test, slow.val)


def test_a_mismatching_export_is_refused_and_torch_computes(tmp_path):
    R.forget_sessions()
    data = make_data(24, 8)
    model = build_model(CONFIG)
    torch.manual_seed(123)
    other = build_model(CONFIG)  # other random weights: other features
    assert weights_fingerprint(other) != weights_fingerprint(model)
    # A file where this backbone's export belongs that holds another backbone.
    target = R.backbone_file(tmp_path, model, 32, weights_fingerprint(model))
    target.parent.mkdir(parents=True)
    target.write_bytes(R.export_backbone(other, 32))
    log = EventLog()
    result = fit(FitConfig(CONFIG, HyperParams(lr=3e-3, batch_size=8), epochs=2, seed=1,
                           settings=TrainSettings(views=2)),
                 CachedViews(data, cache_dir=tmp_path), base_model=model, sink=log)
    notices = log.of_type(Notice)
    warning = [n for n in notices if n.level == "warning"]
    assert warning and "other features than torch" in warning[0].text
    assert any(n.text.startswith("features: torch (CPU, ") for n in notices)
    # ...and the fit is the torch path's.
    reference = fit(FitConfig(CONFIG, HyperParams(lr=3e-3, batch_size=8), epochs=2, seed=1,
                              settings=TrainSettings(views=2, features="torch")),
                    CachedViews(data), base_model=model)
    assert [e.val_loss for e in result.history] == [e.val_loss for e in reference.history]
    fs = build_feature_set(model, data.train_images, data.val_images, views=2, seed=1,
                           device=CPU, cache_dir=tmp_path)
    assert fs.path.startswith("torch") and "other features" in fs.notice


def test_fits_end_the_same_through_either_path():
    R.forget_sessions()
    data = make_data(24, 8)
    model = build_model(CONFIG)
    runs = {}
    for path in ("auto", "torch"):
        config = FitConfig(CONFIG, HyperParams(lr=3e-3, batch_size=8), epochs=3, seed=2,
                           settings=TrainSettings(views=3, features=path))
        runs[path] = fit(config, CachedViews(data), base_model=model)
    for a, b in zip(runs["auto"].history, runs["torch"].history, strict=True):
        assert a.train_loss == pytest.approx(b.train_loss, abs=1e-5)
        assert a.val_loss == pytest.approx(b.val_loss, abs=1e-5)
        assert a.objective == b.objective


def test_searches_end_the_same_and_record_the_path(tmp_path):
    import optuna

    from allgui.core.search.runner import SearchSettings, run_search

    R.forget_sessions()
    data = make_data(24, 8)
    values, paths = {}, {}
    for path in ("auto", "torch"):
        project = Project.create(tmp_path / path, ProjectSettings(
            model=ModelSettings(backbone="test_efficientnet", weights="none")))
        settings = SearchSettings(trials=3, epochs=2, views=2, startup_trials=2, device="cpu",
                                  features=path)
        run_search(project, settings, data=data)
        study = optuna.load_study(study_name="search", storage=project.storage_url)
        values[path] = [t.value for t in study.trials]
        paths[path] = {t.user_attrs["settings"]["features"] for t in study.trials}
    assert values["auto"] == pytest.approx(values["torch"], abs=1e-6)
    assert len(paths["auto"]) == 1 and next(iter(paths["auto"])).startswith(CPU_ENGINES)
    assert len(paths["torch"]) == 1 and next(iter(paths["torch"])).startswith("torch")


def test_validations_end_the_same_and_record_the_path(tmp_path, make_tiny_project):
    from allgui.core.dataset.prepared import prepare_project_data
    from allgui.core.validation import ValidationSettings, run_batch

    R.forget_sessions()
    project = make_tiny_project(tmp_path / "v")
    prepared = prepare_project_data(project)
    tiny = {"lr": 3e-3, "hidden": 16, "batch_size": 16}
    batches = {}
    for path in ("auto", "torch"):
        torch.manual_seed(0)  # the batch builds its random-weights backbone from torch's seed
        batches[path] = run_batch(project, ValidationSettings(runs=2, epochs=2, params=tiny,
                                                              features=path), prepared=prepared)
    fast, slow = batches["auto"], batches["torch"]
    assert fast.environment["features"].startswith(CPU_ENGINES)
    assert slow.environment["features"].startswith("torch (CPU, ")
    for a, b in zip(fast.runs, slow.runs, strict=True):
        assert a.finished and b.finished
        assert a.curves["val_loss"] == pytest.approx(b.curves["val_loss"], abs=1e-5)
        fa, fb = a.metrics.headline(), b.metrics.headline()
        assert fa.keys() == fb.keys()
        for key in fa:
            assert fa[key] == pytest.approx(fb[key], abs=1e-4, nan_ok=True), key


def test_the_faster_augmentation_gives_the_reference_numbers():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 40, 40, 3), dtype=np.uint8)
    m = random_affine_matrices(5, view_generator(1, 2))
    reference = F.affine_grid(m, [5, 3, 40, 40], align_corners=False)
    assert torch.allclose(affine_grid(m, 5, 40, 40, "cpu"), reference, atol=1e-6)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    x = to_float_nchw(images, "cpu")
    slow = normalise(F.grid_sample(x, reference, mode="bilinear", padding_mode="border",
                                   align_corners=False), mean, std)
    fast = model_input(images, mean, std, "cpu", m)
    assert fast.is_contiguous()
    assert torch.allclose(fast, slow, atol=1e-3)  # float rounding of the sampling points
    plain = model_input(images, mean, std, "cpu")
    assert torch.allclose(plain, normalise(x, mean, std), atol=1e-5)


def test_one_thread_while_a_head_trains_then_the_count_before():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with head_threads(CPU, head_only=True):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with head_threads(CPU, head_only=False):
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_physical_cores_is_a_usable_count():
    import os

    assert 1 <= physical_cores() <= (os.cpu_count() or 1)
