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
    assert result.startup == 1  # a fifth of the trials at most
    tpe, rnd = (next(c for c in result.studies if c.sampler == s) for s in ("tpe", "random"))
    assert len(tpe.params) == len(rnd.params) == 6
    assert tpe.params[:1] == rnd.params[:1]  # the shared random start, paired by seed
    assert tpe.params[1:] != rnd.params[1:]  # then TPE draws from its model


# -- issue 28 item 7: a comparison that can conclude ------------------------------------------


def _comparison(best_at: dict[str, list[int]], startup: int, trials: int = 20):
    from allgui.core.validation.samplers import SamplerComparison, StudyCurve

    studies = []
    for sampler, bests in best_at.items():
        for k, at in enumerate(bests):
            values = [0.5 + 0.001 * t for t in range(trials)]
            values[at] = 0.9
            studies.append(StudyCurve(sampler, k + 1, tuple(values),
                                      {"balanced_accuracy": 0.8 + 0.02 * k,
                                       "weighted_f1": 0.7 + 0.03 * k}))
    return SamplerComparison(tuple(studies), trials, "balanced accuracy", {}, 1.0, "", startup)


def test_the_shared_random_start_is_a_small_part_and_more_studies_run():
    from allgui.cli import build_parser
    from allgui.core.validation.samplers import comparison_startup

    assert comparison_startup(10, 20) == 4  # was 10 of 20: the best trial sat in it
    assert comparison_startup(10, 100) == 10 and comparison_startup(3, 4) == 1
    args = build_parser().parse_args(["compare-samplers", "p"])
    from allgui.core.validation.samplers import DEFAULT_STUDIES

    assert args.studies is None and DEFAULT_STUDIES >= 5


def test_test_figures_show_their_spread_and_the_start_that_decided_them():
    from allgui.core.report.samplers import HEADER, rows, start_note

    decided = _comparison({"tpe": [1, 2, 0, 3, 15], "random": [0, 1, 2, 3, 0]}, startup=4)
    table = {r[0]: dict(zip(HEADER, r, strict=True)) for r in rows(decided)}
    tpe = table["TPE"]
    assert "±" in tpe["Test balanced accuracy"] and "(0.8000-0.8800)" in tpe[
        "Test balanced accuracy"]
    assert tpe["Best trial in the shared start"] == "4 of 5"
    assert table["random search"]["Best trial in the shared start"] == "5 of 5"
    assert "cannot tell the samplers apart" in start_note(decided)
    fine = _comparison({"tpe": [10, 12, 19], "random": [7, 9, 15]}, startup=4)
    assert start_note(fine) == ""
