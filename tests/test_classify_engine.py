"""Classify on OpenVINO when it is chosen: the same answers as onnxruntime,
said where the model runs, and onnxruntime with a sentence when OpenVINO
cannot be had."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from allgui.cli import main
from allgui.core.infer import Classifier
from allgui.core.infer.openvino_session import PROVIDER
from allgui.core.infer.openvino_session import installed as openvino_installed

needs_openvino = pytest.mark.skipif(not openvino_installed(),
                                    reason="OpenVINO is not installed (the openvino extra)")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, tiny_models):
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    tiny_models.export(path)
    return path


def _images(size: int) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(5)]


@needs_openvino
def test_openvino_gives_onnxruntimes_answers(model_path, tiny_models):
    images = _images(tiny_models.size)
    ort = Classifier(model_path, device="cpu", threads=1)
    ov = Classifier(model_path, device="cpu", threads=1, engine="openvino")
    assert (ort.engine, ov.engine) == ("onnxruntime", "openvino")
    assert ov.providers == (PROVIDER,) and not ov.device_note
    a = ort.classify_many(images, batch_size=3)
    b = ov.classify_many(images, batch_size=3)
    assert [p.label for p in a] == [p.label for p in b]
    probs_a = np.array([list(p.probabilities.values()) for p in a])
    probs_b = np.array([list(p.probabilities.values()) for p in b])
    assert np.abs(probs_a - probs_b).max() <= 1e-4
    assert len({round(p, 3) for p in probs_a[:, 0]}) > 1  # images told apart: a real check
    for p, q in zip(a, b, strict=True):
        assert p.heatmap is not None and q.heatmap is not None
        assert np.abs(p.heatmap - q.heatmap).max() <= 1e-3
    features_a: list[np.ndarray] = []
    features_b: list[np.ndarray] = []
    pixels = np.stack([ort.prepare(i).pixels for i in images])
    ort.run(pixels, features=features_a)
    ov.run(pixels, features=features_b)
    assert np.allclose(features_a[0], features_b[0], rtol=1e-4, atol=1e-5)


def test_openvino_missing_leaves_onnxruntime_with_a_sentence(model_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # as where it is not installed
    clf = Classifier(model_path, device="cpu", engine="openvino")
    assert clf.engine == "onnxruntime"
    assert clf.providers == ("CPUExecutionProvider",)
    assert "OpenVINO is not installed" in clf.device_note


@needs_openvino
def test_cli_classify_says_openvino_runs_it(model_path, cnmc_samples, capsys, tiny_models):
    image = cnmc_samples / "all" / "UID_1_3_1_all.bmp"
    assert main(["classify", str(model_path), str(image), "--device", "cpu",
                 "--engine", "openvino"]) == 0
    out = capsys.readouterr().out
    assert f"runs on: {PROVIDER}" in out
    row = next(line for line in out.splitlines() if line.startswith(str(image)))
    assert row.split()[1] in tiny_models.classes
