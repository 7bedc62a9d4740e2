"""The report's "study beside this run" (issue 23, Build 3): the published
figures beside this run's, every one of this run's recomputed here straight
from study.db (Optuna) and predictions.csv / batch.json, the optimism row, and
the optimisation history with integer trial numbers, the startup/TPE boundary
and the best trial marked. A real tiny search and batch (CPU, 32 px)."""

from __future__ import annotations

import csv

import numpy as np
import optuna
import pytest
import torch
from scipy.stats import mannwhitneyu
from sklearn.metrics import roc_auc_score

from allgui.core.report.published import STUDY

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def searched(tmp_path_factory, make_tiny_project):
    from allgui.core.search.runner import SearchSettings, run_search
    from allgui.core.validation import ValidationSettings, run_batch

    project = make_tiny_project(tmp_path_factory.mktemp("beside"))
    run_search(project, SearchSettings(trials=6, epochs=2, views=2, startup_trials=3,
                                       device="cpu"))
    batch = run_batch(project, ValidationSettings(runs=2, epochs=2, probe=False))
    return project, batch


def _recomputed(project, batch):
    """This run's figures, read from the files with no allgui reader."""
    study = optuna.load_study(study_name="search", storage=project.storage_url)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = max(done, key=lambda t: t.value)
    startup = [t.value for t in done if t.number < 3]  # sequential: the first 3 finished
    tpe = [t.value for t in done if t.number >= 3]
    accs, aucs, vals = [], [], []
    for run in batch.runs_of("tuned"):
        with open(run.predictions_path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        truth = [r["true"] for r in rows]
        predicted = [r["predicted"] for r in rows]
        accs.append(np.mean([a == b for a, b in zip(truth, predicted, strict=True)]))
        pos = batch.positive_class
        aucs.append(roc_auc_score([t == pos for t in truth], [float(r[f"p_{pos}"]) for r in rows]))
        vals.append(run.curves["val_accuracy"][run.best_epoch - 1])
    return best, startup, tpe, accs, aucs, vals


def test_the_study_beside_this_run_matches_a_recomputation(searched):
    from allgui.core.report.build import build_document
    from allgui.core.report.study_facts import read_study

    project, batch = searched
    doc = build_document(project, batch, read_study(project), resamples=50)
    tables = {t.caption: t for t in doc.tables()}
    beside = tables["The published study and this run, figure by figure"]
    rows = {r[0]: r for r in beside.rows}
    best, startup, tpe, accs, aucs, vals = _recomputed(project, batch)

    row = rows["Best trial's validation accuracy"]
    assert row[1] == f"{STUDY.best_val_accuracy:.4f}"
    assert row[2] == f"trial {best.number}: {best.value:.4f}"
    assert row[3].startswith("Wilson 95% [")
    assert rows["Startup (random) trials, mean \u00b1 SD"][2].startswith(
        f"{np.mean(startup):.4f} \u00b1 {np.std(startup, ddof=1):.4f} (n = 3)")
    u = mannwhitneyu(startup, tpe, alternative="two-sided")
    assert rows["TPE trials, mean \u00b1 SD"][3] == (
        f"Mann-Whitney U {u.statistic:.1f}, p = {u.pvalue:.4f}")
    acc = rows["Test accuracy"]
    assert acc[1] == f"{STUDY.test_accuracy:.4f}"
    assert acc[2] == f"{np.mean(accs):.4f} \u00b1 {np.std(accs, ddof=1):.4f} (n = 2)"
    auc = rows["Test AUC-ROC, mean \u00b1 SD"]
    assert auc[1] == "0.920 \u00b1 0.008"
    assert auc[2] == f"{np.mean(aucs):.4f} \u00b1 {np.std(aucs, ddof=1):.4f} (n = 2)"
    assert rows["Test AUC-ROC, CV (SD / mean)"][1] == f"{0.008 / 0.920:.2%}"
    assert rows["Top importances (fANOVA)"][1] == "learning rate 55%, dropout 1 34%"
    assert rows["Search"][1] == "20 trials x 10 epochs" and rows["Search"][2] == "6 trials x 2 epochs"

    optimism = tables["Optimism: one configuration measured three ways (accuracy)"]
    study_row, this_row = optimism.rows
    assert study_row[1:] == ("0.9686", "not reported", "0.8672", f"{0.9686 - 0.8672:.4f}")
    assert this_row[1] == f"{best.value:.4f}"
    assert this_row[2].startswith(f"{np.mean(vals):.4f}")
    assert this_row[4] == f"{best.value - np.mean(accs):.4f}"


def test_history_has_integer_trials_the_tpe_boundary_and_the_best_starred(searched):
    from allgui.core.report.build import build_document
    from allgui.core.report.study_facts import read_study

    project, batch = searched
    facts = read_study(project, importances=False)
    assert facts.startup_trials == 3 and facts.startup_numbers == frozenset({0, 1, 2})
    doc = build_document(project, batch, facts, resamples=50)
    picture = next(p for p in doc.pictures() if p.caption.startswith("Optimisation history"))
    ax = picture.figure.axes[0]
    picture.figure.canvas.draw()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)
    boundary = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert boundary and boundary[0].get_xdata()[0] == pytest.approx(2.5)
    best = max(facts.trials, key=lambda t: t.value)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"best: trial {best.number} ({best.value:.4f})" in labels
    assert "startup (random) trial" in labels and "TPE trial" in labels


def test_the_section_is_in_html_and_pdf(searched, tmp_path):
    from pypdf import PdfReader

    from allgui.core.report.build import write_report

    project, _ = searched
    files = write_report(project, out_dir=tmp_path, resamples=50)
    html = files.html.read_text(encoding="utf-8")
    pdf = "\n".join(p.extract_text() for p in PdfReader(files.pdf).pages)
    for text in (html, pdf):
        assert "The study beside this run" in text and "Optimism: one configuration" in text
        assert "0.9686" in text and "0.8672" in text


def test_intervals_stay_within_what_the_figure_can_be():
    """Two runs far apart give a t-interval past 1: said as too few runs, not printed."""
    from allgui.core.report.beside import _ci
    from allgui.core.validation.stats import summarize

    assert _ci(summarize([0.70, 0.95])).startswith("too few runs to say (n = 2")
    assert _ci(summarize([0.90, 0.91, 0.92])) == "95% CI (t) [0.8852, 0.9348]"
