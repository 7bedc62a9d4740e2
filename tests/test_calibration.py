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


# -- issue 28 items 2 and 3: calibration kept only when it helps; what backs a margin ---------


def _calibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two classes whose labels are drawn from the model's own probabilities."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet((0.6, 0.6), n)
    return (rng.random(n) < p[:, 1]).astype(int), p


def _log_loss(y, p):
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1))))


def test_a_temperature_that_does_not_help_held_out_images_is_left_off():
    """A calibrated model and 40 validation images: the temperature fitted on
    them is noise. Over many such runs it is mostly left off, and the test
    log loss of what is applied beats always applying it."""
    kept, applied, always = 0, [], []
    for seed in range(24):
        vy, vp = _calibrated(40, seed)
        ty, tp = _calibrated(1000, 100 + seed)
        cal = calibrate(vy, vp, ty, tp)
        kept += cal.kept
        assert cal.temperature == (cal.fitted if cal.kept else 1.0)
        applied.append(_log_loss(ty, scaled(tp, cal.temperature)))
        always.append(_log_loss(ty, scaled(tp, cal.fitted)))
        if not cal.kept:
            assert cal.after == cal.before and "left off" in cal.line()
    assert kept < 12
    assert np.mean(applied) < np.mean(always)


def test_an_overconfident_model_keeps_its_temperature_and_says_why():
    vy, vp = _overconfident(300, 0)
    ty, tp = _overconfident(400, 1)
    cal = calibrate(vy, vp, ty, tp)
    assert cal.kept and cal.temperature > 1.5 and cal.after.ece < cal.before.ece
    assert cal.cv_loss[1] < cal.cv_loss[0] and "kept" in cal.line()
    assert Calibration.from_dict(cal.to_dict()) == cal


def test_reliability_diagram_bins_hold_enough_images():
    """Most answers sure: equal-width bins leave bins of 0-4 images, the
    equal-mass bins of the diagram hold at least ten each, counted."""
    from allgui.core.validation.calibration import MIN_BIN_IMAGES, reliability

    rng = np.random.default_rng(3)
    top = 0.5 + 0.5 * rng.beta(6, 1, 120)  # mostly sure, a few answers near 0.5
    y = rng.integers(0, 2, 120)
    p = np.where(rng.random(120)[:, None] < top[:, None], np.eye(2)[y], np.eye(2)[1 - y])
    p = p * (2 * top[:, None] - 1) + (1 - top[:, None])
    wide = reliability(y, p)
    assert any(0 < c < 5 for c in wide.counts)
    cal = calibrate(*_overconfident(300, 0), y, p)
    for rel in (cal.before_adaptive, cal.after_adaptive):
        filled = [c for c in rel.counts if c]
        assert sum(rel.counts) == 120 and min(filled) >= MIN_BIN_IMAGES


def test_a_referral_margin_says_how_many_images_back_it():
    from allgui.core.validation.referral import choose_referral, images_needed

    vy, vp = _overconfident(52, 4)
    ty, tp = _overconfident(300, 5)
    small = choose_referral(vy, vp, ty, tp, target=0.99)
    assert small.val_images == 52 and small.val_kept <= 52
    assert small.supported is False
    assert "52 validation images" in small.line() and "WARNING" in small.line()
    assert str(images_needed(0.99)) in small.line()
    # a large validation part of a model that is right when sure supports 90%
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 3000)
    p = np.eye(2)[y] * 0.96 + 0.02
    big = choose_referral(y, p, y, p, target=0.9)
    assert big.supported is True and "WARNING" not in big.line()
