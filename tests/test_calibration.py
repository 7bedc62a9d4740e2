"""Temperature scaling: lowers ECE on a miscalibrated toy, keeps the
predicted class, and travels through the ONNX file into the classifier."""

from __future__ import annotations

import numpy as np
import pytest

from allgui.core.validation.calibration import (
    Calibration,
    calibrate,
    expected_calibration_error,
    fit_temperature,
    scaled,
)


def _overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three classes, 70% right, but every answer given with p ~ 0.99."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    pred = np.where(rng.random(n) < 0.7, labels, (labels + rng.integers(1, 3, n)) % 3)
    logits = rng.normal(0, 0.3, (n, 3))
    logits[np.arange(n), pred] += 5.0
    p = np.exp(logits)
    return labels, p / p.sum(1, keepdims=True)


def test_temperature_lowers_ece_and_keeps_the_class():
    val_y, val_p = _overconfident(400, 0)
    test_y, test_p = _overconfident(400, 1)
    t = fit_temperature(val_p, val_y)
    assert t > 1.5  # overconfident: the probabilities are softened
    cal = calibrate(val_y, val_p, test_y, test_p)
    assert cal.before.ece > 0.2 and cal.after.ece < cal.before.ece / 2
    assert np.array_equal(scaled(test_p, t).argmax(1), test_p.argmax(1))
    assert Calibration.from_dict(cal.to_dict()) == cal
    assert expected_calibration_error(test_y, test_p) == pytest.approx(cal.before.ece)


def test_a_calibrated_model_is_left_nearly_alone():
    rng = np.random.default_rng(2)
    p = rng.dirichlet((1, 1), 2000)
    y = (rng.random(2000) < p[:, 1]).astype(int)  # labels drawn from p: calibrated
    assert 0.8 < fit_temperature(p, y) < 1.25


def test_temperature_round_trips_through_the_onnx_file(tmp_path, cnmc_samples):
    from allgui.core.infer.classifier import Classifier
    from allgui.core.infer.providers import read_model_info
    from tests.support.onnx_models import export_tiny

    _, plain = export_tiny(tmp_path / "plain.onnx")
    _, warm = export_tiny(tmp_path / "warm.onnx", temperature=2.5)
    assert plain.info.card.temperature == 1.0
    assert read_model_info(warm.path).card.temperature == 2.5
    images = sorted(str(p) for p in cnmc_samples.rglob("*.bmp"))[:4]
    a = Classifier(plain.path, device="cpu").classify_many(images, heatmap=False)
    b = Classifier(warm.path, device="cpu").classify_many(images, heatmap=False)
    for x, y in zip(a, b, strict=True):
        raw = np.array(list(x.probabilities.values()))
        assert x.label == y.label
        np.testing.assert_allclose(list(y.probabilities.values()), scaled(raw[None], 2.5)[0],
                                   atol=1e-4)
    assert any("temperature 2.500" in line for line in read_model_info(warm.path).summary_lines())
