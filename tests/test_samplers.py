"""The sampler comparison on tiny data: repeated studies per sampler on the
cached features, best-so-far curves, test figures, and a report section."""

from __future__ import annotations

import dataclasses

from allgui.cli import main
from allgui.core.report.build import build_document
from allgui.core.report.samplers import load_comparison
from allgui.core.search.settings import SearchSettings
from allgui.core.validation.samplers import compare_samplers


def test_comparison_runs_and_reports(tmp_path, make_tiny_project, capsys):
    project = make_tiny_project(tmp_path)
    settings = dataclasses.replace(SearchSettings.from_project(project), epochs=2, views=2,
                                   startup_trials=1, device="cpu")
    result = compare_samplers(project, settings, ("tpe", "random", "gp"), studies=2, trials=3,
                              device="cpu")
    assert result.samplers() == ["tpe", "random", "gp"]
    for curve in result.studies:
        assert len(curve.values) == 3 and list(curve.best_so_far) == sorted(curve.best_so_far)
        assert 0 <= curve.test["balanced_accuracy"] <= 1
    mean, low, high = result.band("tpe")
    assert (low <= mean).all() and (mean <= high).all()
    # the command: CMA-ES says why it cannot run when its package is missing
    assert main(["compare-samplers", str(project.root), "--studies", "1", "--trials", "2",
                 "--samplers", "random,cmaes", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "random search" in out
    saved = load_comparison(project)
    assert saved is not None and saved.trials == 2
    assert "Sampler comparison" in repr(build_document(project, None, resamples=20))


def test_samplers_model_the_results_after_a_shared_random_start(tmp_path, make_tiny_project):
    # With as many startup trials as trials (the search's 10 in a 10-trial
    # comparison) every sampler drew the same random values: TPE, GP and
    # CMA-ES ended identical to random search.
    project = make_tiny_project(tmp_path)
    settings = dataclasses.replace(SearchSettings.from_project(project), epochs=1, views=1,
                                   startup_trials=10, device="cpu")
    result = compare_samplers(project, settings, ("tpe", "random"), studies=1, trials=6,
                              device="cpu")
    assert result.startup == 3
    tpe, rnd = (next(c for c in result.studies if c.sampler == s) for s in ("tpe", "random"))
    assert len(tpe.params) == len(rnd.params) == 6
    assert tpe.params[:3] == rnd.params[:3]  # the shared random start, paired by seed
    assert tpe.params[3:] != rnd.params[3:]  # then TPE draws from its model
