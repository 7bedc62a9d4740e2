"""A reduced precision is checked against fp32 on the project's own images
before it is used, never assumed: features that disagree are refused with a
sentence and fp32 computes them; the engine, precision and fidelity are
recorded with the features and in the cache key; bf16 is refused on a CPU
without native bf16. OpenVINO's tests skip when the extra is not installed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from allgui.core.machine import native_bf16
from allgui.core.model.classifier import ModelConfig, build_model
from allgui.core.train import openvino_engine as ov_engine
from allgui.core.train import runtime as R
from allgui.core.train.features import build_feature_set, weights_fingerprint
from allgui.core.train.fidelity import FidelityThreshold, measure

from support.training_data import make_data

torch.set_num_threads(1)
CPU = torch.device("cpu")
SMALL = ModelConfig(backbone="mobilenetv3_small_050", weights="none", hidden=8)
needs_int8 = pytest.mark.skipif(not ov_engine.int8_installed(),
                                reason="OpenVINO and NNCF are not installed (the openvino extra)")


def _features(seed: int = 0, n: int = 64, d: int = 96):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 4
    centres = rng.normal(size=(4, d))
    return np.abs(centres[labels] + 0.8 * rng.normal(size=(n, d))), labels


def test_the_fidelity_check_passes_faithful_features_and_refuses_drifted_ones():
    ref, labels = _features()
    rng = np.random.default_rng(1)
    threshold = FidelityThreshold()
    faithful = measure(ref, ref * (1 + 1e-3 * rng.normal(size=ref.shape)), labels)
    assert faithful.passes(threshold) and faithful.probe == "quick probe"
    # A plain static int8 of the kind that drifted: a few coarse levels per tensor.
    step = ref.max() / 6
    coarse = measure(ref, np.round(ref / step) * step + 0.3 * rng.normal(size=ref.shape), labels)
    assert not coarse.passes(threshold)
    broken = measure(ref, np.full_like(ref, np.nan), labels)
    assert not broken.passes(threshold)
    unlabelled = measure(ref, ref, None)
    assert unlabelled.passes(threshold) and unlabelled.probe == "nearest neighbour"


@needs_int8
def test_a_corrupted_int8_model_is_refused_and_fp32_computes(tmp_path):
    """A deliberately bad int8 model (another backbone's, calibrated as NNCF
    would) where this backbone's belongs: the check refuses it with a sentence,
    and the features are fp32's, under fp32's key."""
    R.forget_sessions()
    data = make_data(48, 8, size=64)
    model = build_model(SMALL)
    torch.manual_seed(99)
    other = build_model(SMALL)
    kw = dict(views=1, seed=0, device=CPU, cache_dir=tmp_path, features="openvino",
              train_labels=data.train_labels)
    fp32 = build_feature_set(model, data.train_images, data.val_images, **kw)
    onnx = R.backbone_file(tmp_path, model, 64, weights_fingerprint(model))
    bad = onnx.with_name(f"{onnx.stem}-int8-{ov_engine.int8_recipe()}.xml")
    calibration = np.random.default_rng(0).normal(size=(8, 3, 64, 64)).astype(np.float32)
    ov_engine.quantized(R.export_backbone(other, 64), calibration, bad)
    R.forget_sessions()
    refused = build_feature_set(model, data.train_images, data.val_images, precision="int8",
                                **kw)
    assert "int8 was refused for this project" in refused.notice
    assert refused.key == fp32.key and refused.path == fp32.path
    for a, b in zip(refused.train_views, fp32.train_views, strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    record = json.loads(onnx.with_name(f"{onnx.stem}-int8-{ov_engine.int8_recipe()}.fidelity.json")
                        .read_text())
    assert record["fidelity"]["cosine_mean"] < FidelityThreshold().cosine_mean


@needs_int8
def test_a_faithful_int8_is_used_recorded_and_keyed_apart(tmp_path):
    """Passing the check (a threshold this tiny random model can meet), int8 is
    used: the path names it with its fidelity, meta.json records engine,
    precision and fidelity, and fp32's features keep their own entry."""
    R.forget_sessions()
    data = make_data(48, 8, size=64)
    model = build_model(SMALL)
    lenient = FidelityThreshold(cosine_mean=0.5, cosine_min=0.0, agreement=0.0)
    from allgui.core.train.augment import model_input
    from allgui.core.train.fidelity import sample_rows

    rows = sample_rows(len(data.train_images))
    sample = model_input(data.train_images[rows], model.mean, model.std, "cpu")
    check = model_input(data.train_images[:4], model.mean, model.std, "cpu")
    runtime = R.choose_runtime(model, CPU, check, weights=weights_fingerprint(model),
                               choice="openvino", cache_dir=tmp_path, precision="int8",
                               sample=sample, labels=data.train_labels[rows],
                               calibration=sample, threshold=lenient)
    assert runtime.path.name == "openvino-int8" and runtime.path.precision == "int8"
    assert runtime.path.key_name == f"openvino-int8:{ov_engine.int8_recipe()}"  # the cache's key
    assert runtime.path.fidelity is not None and "fidelity against fp32" in runtime.path.description
    strict = R.choose_runtime(model, CPU, check, weights=weights_fingerprint(model),
                              choice="openvino", cache_dir=tmp_path, precision="int8",
                              sample=sample, labels=data.train_labels[rows],
                              calibration=sample, threshold=FidelityThreshold(1.01, 1.01, 1.01))
    assert strict.path.name == "openvino" and "refused" in strict.path.notice
    fp32 = build_feature_set(model, data.train_images, data.val_images, views=1, seed=0,
                             device=CPU, cache_dir=tmp_path, features="openvino")
    meta = json.loads((tmp_path / "features" / fp32.key / "meta.json").read_text())
    assert meta["engine"] == "openvino" and meta["precision"] == "fp32"
    from allgui.core.train.augment import DEFAULT_AUGMENTATION
    from allgui.core.train.features import _key  # the key covers the engine and precision

    args = (model, "w", data.train_images, data.val_images, 0, "", DEFAULT_AUGMENTATION, CPU, True)
    assert _key(*args, "openvino-int8") != _key(*args, "openvino") != _key(*args, "onnxruntime")


@pytest.mark.skipif(not ov_engine.installed() or native_bf16(),
                    reason="needs OpenVINO on a CPU without native bf16")
def test_bf16_is_refused_on_a_cpu_without_native_bf16(tmp_path):
    R.forget_sessions()
    data = make_data(24, 8, size=64)
    model = build_model(SMALL)
    fs = build_feature_set(model, data.train_images, data.val_images, views=1, seed=0,
                           device=CPU, cache_dir=tmp_path, features="openvino", precision="bf16")
    assert "bf16 needs a CPU that computes it natively" in fs.notice
    assert fs.path.endswith("fp32)")


def test_a_reduced_precision_without_openvino_says_so(tmp_path):
    R.forget_sessions()
    data = make_data(24, 8, size=64)
    model = build_model(SMALL)
    fs = build_feature_set(model, data.train_images, data.val_images, views=1, seed=0,
                           device=CPU, cache_dir=tmp_path, features="onnxruntime",
                           precision="int8")
    assert fs.path.startswith("onnxruntime (CPU, ") and "Features in fp32" in fs.notice
