"""A validation batch's evidence on tiny data: the untuned head and the linear
probe on the same seeds, paired; calibration and referral per run, stored in
the checkpoint's card and reported."""

from __future__ import annotations

import numpy as np
import pytest

from allgui.core.dataset.prepared import prepare_project_data
from allgui.core.model.checkpoint import load_checkpoint
from allgui.core.model.params import untuned_defaults
from allgui.core.report.build import build_document
from allgui.core.validation import ValidationSettings, analyse, run_batch
from allgui.core.validation.analysis import comparison_rows
from allgui.core.validation.batch import load_batch
from allgui.core.validation.probe import fit_probe
from allgui.core.validation.referral import choose_referral, coverage_accuracy
from allgui.core.validation.run_record import BASELINE, PROBE, TUNED

TINY = {"lr": 3e-3, "hidden": 16, "batch_size": 16}


def test_batch_pairs_tuned_untuned_and_probe(tmp_path, make_tiny_project):
    project = make_tiny_project(tmp_path)
    prepared = prepare_project_data(project)
    batch = run_batch(project, ValidationSettings(runs=2, epochs=2, params=TINY,
                                                  baseline=untuned_defaults()), prepared=prepared)
    assert batch.probe is not None and batch.probe.params["C"] > 0
    assert [r.seed for r in batch.runs_of(PROBE)] == [0, 1]
    assert len(batch.runs_of(TUNED)) == len(batch.runs_of(BASELINE)) == 2
    assert load_batch(batch.path) == batch
    analysis = analyse(batch, resamples=50)
    row = analysis.row("balanced_accuracy")
    assert row.probe_summary is not None and row.probe_difference is not None
    assert row.probe_difference.method.startswith("paired bootstrap")
    assert comparison_rows(analysis, PROBE)[1]
    for run in batch.runs_of(TUNED):
        cal = run.calibration
        assert cal["temperature"] > 0 and 0 <= cal["after"]["ece"] <= 1
        assert 0 <= cal["referral"]["margin"] <= 1
        card = load_checkpoint(run.checkpoint)[1].card
        assert card.temperature == pytest.approx(cal["temperature"])
        assert card.uncertain_margin == pytest.approx(cal["referral"]["margin"])
    text = repr(build_document(project, batch, resamples=50))
    for words in ("Linear probe", "Calibration per run", "Referral of uncertain cells"):
        assert words in text


def test_probe_chooses_c_by_cross_validation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 20))
    y = (x[:, 0] + 0.3 * rng.normal(size=200) > 0).astype(int)
    probe = fit_probe(x[:120], y[:120], x[120:], y[120:])
    assert probe.cv_balanced_accuracy > 0.8
    assert probe.predict_proba(x[:3]).shape == (3, 2)


def test_referral_margin_reaches_the_target_on_validation():
    rng = np.random.default_rng(1)
    p1 = rng.random(500)
    proba = np.stack([1 - p1, p1], 1)
    labels = (rng.random(500) < p1).astype(int)  # calibrated: sure cells are right
    ref = choose_referral(labels, proba, labels, proba, target=0.95)
    kept = [a for m, c, a in coverage_accuracy(labels, proba) if m >= ref.margin and a]
    assert ref.reached_on_validation and kept[0] >= 0.95
    assert 0 < ref.test_coverage < 1
