"""Issue 28 item 1, issue 26 item 10: uncertainty from the test images, named
for what it resamples; paired comparisons on the same images; intervals that
stay within what a figure can be, in the window's, command line's and
report's tables alike; the model card carrying the test-image interval."""

from __future__ import annotations

import math

import numpy as np
import pytest

from allgui.core.export.from_run import batch_metrics, interval_note
from allgui.core.infer.model_file import ModelInfo
from allgui.core.model.card import ModelCard
from allgui.core.validation.analysis import analyse, comparison_rows, metrics_rows
from allgui.core.validation.batch import Batch
from allgui.core.validation.bootstrap import (
    bootstrap_figures,
    figures,
    paired_bootstrap,
    run_intervals,
)
from allgui.core.validation.intervals import clopper_pearson, delong, wilson
from allgui.core.validation.metrics import compute_metrics
from allgui.core.validation.predictions import Predictions, write_predictions
from allgui.core.validation.provenance import ModelRecord, SplitRecord, StudySummary
from allgui.core.validation.run_record import PROBE, TUNED, Configuration, RunRecord


def _runs(tmp_path, label, correct_sets, labels, classes, patients=None):
    """Runs of ``label``, one per seed, right exactly on the images in each set."""
    k = len(classes)
    runs = []
    for seed, right in enumerate(correct_sets):
        proba = np.full((len(labels), k), 0.1 / (k - 1))
        for i, y in enumerate(labels):
            c = y if i in right else (y + 1) % k
            proba[i, c] = 0.9
        # a spread of confidences, so the AUC is not an artefact of ties
        proba = 0.8 * proba + 0.2 * np.random.default_rng(seed).dirichlet(np.ones(k), len(labels))
        folder = tmp_path / f"{label}-{seed}"
        folder.mkdir()
        paths = tuple(f"img{i}.png" for i in range(len(labels)))
        pats = tuple(patients) if patients else tuple("" for _ in labels)
        write_predictions(folder / "predictions.csv",
                          Predictions(paths, pats, np.asarray(labels), proba, classes))
        m = compute_metrics(labels, proba, classes, classes[0],
                            patients=patients if patients else None)
        runs.append(RunRecord(label, seed + 1, seed, "finished", str(folder), 2, 1, metrics=m,
                              curves={"val_loss": [0.5, 0.4]}))
    return tuple(runs)


def _batch(tmp_path, tuned, probe=(), classes=("all", "hem")):
    return Batch(
        batch_id="b", folder=str(tmp_path), created="2026-01-01T00:00:00+00:00",
        status="finished", tuned=Configuration({"lr": 1e-3}, "trial 1", 1), baseline=None,
        seeds=tuple(r.seed for r in tuned), max_epochs=2, patience=1, test_source="held-out",
        test_set="held-out part", classes=classes, positive_class=classes[0],
        model=ModelRecord(), dataset_fingerprint="", split=SplitRecord(), environment={},
        study=StudySummary(name="s"), runs=tuned,
        probe=Configuration({"C": 1.0}, "linear probe") if probe else None, probe_runs=probe)


def _interval_cells(header, rows):
    cols = [i for i, h in enumerate(header) if h.startswith("95%")]
    for row in rows:
        for c in cols:
            if row[c].startswith("["):
                yield row[0], tuple(float(x) for x in row[c].strip("[]").split(","))


def test_wilson_and_exact_match_their_closed_forms():
    # Newcombe (1998), example 1: 81 of 263 -> Wilson 0.2553 to 0.3662
    low, high = wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    # exact: the binomial tails at the bounds hold alpha/2 each
    from scipy.stats import binom

    low, high = clopper_pearson(34, 38)
    assert binom.sf(33, 38, low) == pytest.approx(0.025, abs=1e-6)
    assert binom.cdf(34, 38, high) == pytest.approx(0.025, abs=1e-6)
    assert wilson(38, 38)[1] == pytest.approx(1.0) and clopper_pearson(0, 10)[0] == 0.0


def test_delong_variance_matches_the_bootstrap_and_a_perfect_split_is_not_zero_width():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300).astype(bool)
    s = rng.normal(size=300) + 1.2 * y
    auc, b = delong(y, s)
    iv, _ = bootstrap_figures(y.astype(int), [np.c_[1 - s, s]], ("n", "p"), "p",
                              resamples=1500)
    assert b.low < auc < b.high
    assert b.high - b.low == pytest.approx(iv["auc_roc"].high - iv["auc_roc"].low, rel=0.2)
    # 12 of 12 positives ranked above every negative: not '1.000-1.000'
    auc, b = delong([1] * 12 + [0] * 30, list(range(30, 42)) + list(range(30)))
    assert auc == 1.0 and b.high == 1.0 and b.low < 0.9


@pytest.mark.parametrize("k", [2, 4])
def test_fast_figures_equal_the_reported_metrics(k):
    rng = np.random.default_rng(k)
    y = rng.integers(0, k, 150)
    y[:k] = np.arange(k)
    p = np.round(rng.dirichlet(np.ones(k), 150) + 0.6 * np.eye(k)[y], 3)
    classes = tuple(f"c{i}" for i in range(k))
    patients = [f"p{i % 17}" for i in range(150)]
    want = compute_metrics(y, p, classes, classes[0], patients=patients).headline()
    codes = np.unique(patients, return_inverse=True)[1]
    got = figures(y, p, classes, classes[0], codes)
    assert set(got) == set(want)
    for key in want:
        assert got[key] == pytest.approx(want[key], abs=1e-9), key


def test_batch_table_gives_the_test_image_interval_within_bounds(tmp_path):
    """Three seeds that agree closely on 38 images: the spread over seeds is
    narrow (the old '95% CI'), the test-image interval is the wide one
    (Wilson for 34/38 is [0.76, 0.96]); nothing passes 1."""
    labels = [0] * 19 + [1] * 19
    wrong = [{0, 20, 21, 22}, {0, 20, 21, 23}, {1, 20, 21, 22}]
    sets = [set(range(38)) - w for w in wrong]
    batch = _batch(tmp_path, _runs(tmp_path, TUNED, sets, labels, ("all", "hem")))
    analysis = analyse(batch, resamples=600)
    header, rows = metrics_rows(analysis)
    assert any(h.startswith("95% over seeds") for h in header)
    assert any(h.startswith("95% over test images") for h in header)
    cells = list(_interval_cells(header, rows))
    assert cells and all(0.0 <= lo <= hi <= 1.0 for _, (lo, hi) in cells)
    acc = analysis.row("accuracy")
    seeds, test = acc.seeds[TUNED], acc.test[TUNED]
    wl, wh = wilson(34, 38)
    assert (test.high - test.low) > 2 * (seeds.high - seeds.low)
    assert test.high - test.low == pytest.approx(wh - wl, rel=0.3)
    # precision of 'hem' is 1.0 on every seed but one: the t-interval would pass 1
    prec = analysis.row("precision[all]")
    assert prec.seeds[TUNED].high <= 1.0


def test_two_runs_are_too_few_to_say_and_nothing_prints_past_one(tmp_path):
    labels = [0] * 10 + [1] * 10
    sets = [set(range(20)) - {0}, set(range(20)) - {1, 2, 3, 11}]
    batch = _batch(tmp_path, _runs(tmp_path, TUNED, sets, labels, ("all", "hem")))
    header, rows = metrics_rows(analyse(batch, resamples=300))
    col = header.index("95% over seeds (t)")
    assert {row[col] for row in rows} == {"too few runs to say"}


def test_probe_comparison_is_paired_on_images_not_a_t_test_over_seeds(tmp_path):
    """The tuned runs beat a fixed probe by 2-3 of 38 images on every seed, each
    right on a few images the probe missed and wrong on others: a t-test over
    the seeds calls that significant (p = 0.02), the same images say it could
    well be chance."""
    labels = [0] * 19 + [1] * 19
    probe_right = set(range(38)) - {0, 1, 2, 3, 4, 5, 20, 21, 22, 23, 24, 25}
    tuned_sets = [(probe_right | {0, 1, 2, 20}) - {7, 30},
                  (probe_right | {0, 1, 2, 20, 21}) - {8, 31},
                  (probe_right | {3, 22, 23}) - {9}]
    tuned = _runs(tmp_path, TUNED, tuned_sets, labels, ("all", "hem"))
    probe = _runs(tmp_path, PROBE, [probe_right] * 3, labels, ("all", "hem"))
    analysis = analyse(_batch(tmp_path, tuned, probe), resamples=800)
    header, rows = comparison_rows(analysis, PROBE)
    acc = next(r for r in rows if r[0].startswith("Accuracy"))
    p = float(acc[header.index("p (two-sided)")].lstrip("< "))
    assert p > 0.1
    assert "paired bootstrap" in acc[-1] and "t" not in header
    assert all(c.test.p_value > 0.1 for c in analysis.probe_mcnemar)


def test_many_classes_get_an_interval_per_class_against_the_rest(tmp_path):
    classes = ("a", "b", "c", "d")
    labels = [i % 4 for i in range(40)]
    sets = [set(range(40)) - {1, 5}, set(range(40)) - {2}, set(range(40)) - {3, 7, 9}]
    batch = _batch(tmp_path, _runs(tmp_path, TUNED, sets, labels, classes), classes=classes)
    analysis = analyse(batch, resamples=300)
    assert {r.of_class for r in analysis.auc_intervals} == set(classes)
    assert all(r.interval.low is not None and r.interval.low < r.interval.high <= 1.0
               for r in analysis.auc_intervals)
    assert analysis.row("auc_roc").test[TUNED].low is not None


def test_patients_are_resampled_whole(tmp_path):
    """Cells of a patient are not independent: a model right or wrong by patient
    gets a wider interval when patients are resampled than when images are."""
    labels = np.array([0] * 40 + [1] * 40)
    patients = [f"p{i // 8}" for i in range(80)]  # 10 patients of 8 cells
    wrong_patients = {"p0", "p6"}
    right = np.array([p not in wrong_patients for p in patients])
    proba = np.where(right[:, None], np.eye(2)[labels], np.eye(2)[1 - labels]) * 0.8 + 0.1
    by_patient, unit = bootstrap_figures(labels, [proba], ("a", "b"), "a", patients, 1000)
    by_image, unit2 = bootstrap_figures(labels, [proba], ("a", "b"), "a", None, 1000)
    assert (unit, unit2) == ("patient", "image")
    width = {k: v.high - v.low for k, v in (("p", by_patient["accuracy"]),
                                            ("i", by_image["accuracy"]))}
    assert width["p"] > 1.5 * width["i"]
    ivs = run_intervals(labels, proba, ("a", "b"), "a", patients, 300)
    assert ivs["accuracy"].method == "bootstrap by patient"


def test_paired_bootstrap_finds_a_real_difference():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    good = np.eye(2)[labels] * 0.8 + 0.1
    bad = good.copy()
    flip = rng.random(400) < 0.25
    bad[flip] = bad[flip][:, ::-1]
    d = paired_bootstrap(labels, [good], [bad], ("a", "b"), "a", resamples=500)["accuracy"]
    assert d.difference == pytest.approx(flip.mean()) and d.low > 0 and d.p_value < 0.01


def test_model_card_carries_the_test_image_interval(tmp_path):
    labels = [0] * 19 + [1] * 19
    wrong = [{0, 20, 21, 22}, {0, 20, 21, 23}, {1, 20, 21, 22}]
    runs = _runs(tmp_path, TUNED, [set(range(38)) - w for w in wrong], labels, ("all", "hem"))
    batch = _batch(tmp_path, runs)
    metrics = batch_metrics(batch, TUNED, runs[0])
    acc = metrics["accuracy"]
    assert (acc["test_low"], acc["test_high"]) == pytest.approx(wilson(34, 38))
    assert acc["ci_high"] - acc["ci_low"] < acc["test_high"] - acc["test_low"]
    info = ModelInfo(path="m.onnx", card=ModelCard(classes=("all", "hem"), positive_class="all"),
                     mean=(0, 0, 0), std=(1, 1, 1), decision_threshold=0.5,
                     uncertain_margin=0.2, heatmap_size=(1, 1), batch_metrics=metrics,
                     interval_note=interval_note(batch, runs[0]))
    text = "\n".join(info.summary_lines())
    assert "95% intervals over the 38 test images" in text and "Wilson" in text
    assert f"accuracy {acc['test_low']:.3f}-{acc['test_high']:.3f}" in text
    assert "training variation only" in text
    for value in metrics.values():
        assert all(0.0 <= v <= 1.0 for k, v in value.items() if k != "runs")


def test_a_many_class_card_names_no_positive_class():
    card = ModelCard(classes=("a", "b", "c", "d", "e"), positive_class="c")
    info = ModelInfo(path="m.onnx", card=card, mean=(0, 0, 0), std=(1, 1, 1),
                     decision_threshold=0.5, uncertain_margin=0.2, heatmap_size=(1, 1))
    assert "positive" not in "\n".join(info.summary_lines())
    assert not math.isnan(wilson(1, 2)[0])


def test_a_figure_right_on_every_resample_still_gets_an_interval(tmp_path):
    """Every 'pro' cell called right on 40 test images: the bootstrap sees
    1.000 in every resample; the interval says how far below 1 it could be."""
    classes = ("a", "b", "c", "pro")
    labels = [i % 4 for i in range(160)]
    sets = [set(range(160)) - {0, 5, 9}, set(range(160)) - {1, 6}, set(range(160)) - {2}]
    batch = _batch(tmp_path, _runs(tmp_path, TUNED, sets, labels, classes), classes=classes)
    row = analyse(batch, resamples=300).row("recall[pro]")
    test = row.test[TUNED]
    assert test.high == 1.0 and test.low == pytest.approx(clopper_pearson(40, 40)[0])
    assert "exact" in test.method


def _patients_data(per_class: int, images: int = 6, seed: int = 0, hem: int | None = None):
    """Two classes, each patient of one class (as in C-NMC), noisy scores."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], [per_class * images, (hem or per_class) * images])
    patients = [f"p{i // images}" for i in range(labels.size)]
    p1 = np.clip(labels * 0.3 + rng.uniform(0, 0.7, labels.size), 0, 1)  # overlapping
    return labels, np.stack([1 - p1, p1], axis=1), patients


def test_a_bootstrap_over_too_few_patients_says_so_instead_of_an_interval():
    from allgui.core.validation.bootstrap import bootstrap_figures

    labels, proba, patients = _patients_data(per_class=2)
    out, unit = bootstrap_figures(labels, [proba], ["all", "hem"], "all", patients, 200)
    assert unit == "patient"
    assert out["accuracy"].low is None and "too few test patients" in out["accuracy"].note


def test_patients_are_drawn_within_their_class_so_every_resample_counts():
    from allgui.core.validation.bootstrap import bootstrap_figures

    # 5 hem patients among 25: drawn from all patients at once, about 4 in 1,000
    # resamples would hold no hem patient and be thrown away
    labels, proba, patients = _patients_data(per_class=20, hem=5)
    out, _ = bootstrap_figures(labels, [proba], ["all", "hem"], "all", patients, 1000)
    b = out["balanced_accuracy"]
    assert b.low is not None and b.low < b.high
    assert b.note == ""  # no resample lacked a class: none was thrown away
