"""Threads that do not fight: every onnxruntime session allgui opens (the
feature pass beside torch, and classification) has no spinning pool and as
many threads as the usable physical cores."""

from __future__ import annotations

import numpy as np
import torch

from allgui.core.machine import native_bf16, physical_cores
from allgui.core.model.classifier import ModelConfig, build_model
from allgui.core.train import runtime as R
from allgui.core.train.augment import model_input

CONFIG = ModelConfig(backbone="test_efficientnet", weights="none", hidden=8)
SPIN = ("session.intra_op.allow_spinning", "session.inter_op.allow_spinning")


def _quiet(session) -> None:
    options = session.get_session_options()
    for entry in SPIN:
        assert options.get_session_config_entry(entry) == "0", entry
    assert options.intra_op_num_threads == physical_cores()


def test_the_feature_session_does_not_spin_beside_torch(tmp_path):
    R.forget_sessions()
    model = build_model(CONFIG).eval()
    images = np.random.default_rng(0).integers(0, 255, (4, 32, 32, 3), dtype=np.uint8)
    x = model_input(images, model.mean, model.std, "cpu")
    runtime = R.choose_runtime(model, torch.device("cpu"), x, weights="w", cache_dir=tmp_path,
                               choice="onnxruntime")
    assert runtime.path.name == "onnxruntime"
    _quiet(runtime.run.session)


def test_classification_sessions_do_not_spin(tmp_path, tiny_models):
    from allgui.core.infer.providers import open_session

    path = tmp_path / "tiny.onnx"
    tiny_models.export(path)
    _quiet(open_session(path, device="cpu").session)


def test_bf16_only_where_the_cpu_computes_it():
    assert native_bf16(frozenset({"avx512f", "avx512_bf16"}))
    assert native_bf16(frozenset({"amx_bf16", "amx_tile"}))
    assert not native_bf16(frozenset({"avx2", "fma", "f16c"}))  # this test machine's kind
