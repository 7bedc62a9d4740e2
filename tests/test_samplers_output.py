"""``compare-samplers`` under the one output rule (issue 25, case 16): each
comparison in a folder of its own, never replacing an earlier one, and no
empty comparison from ``--samplers ""``."""

from __future__ import annotations

import dataclasses
import json

from allgui.cli import main
from allgui.core.report.samplers import load_comparison, save_comparison
from allgui.core.search.settings import SearchSettings
from allgui.core.validation.samplers import compare_samplers


def test_a_comparison_never_replaces_the_one_before(tmp_path, make_tiny_project):
    project = make_tiny_project(tmp_path)
    settings = dataclasses.replace(SearchSettings.from_project(project), epochs=1, views=1,
                                   startup_trials=1, device="cpu")
    first = compare_samplers(project, settings, ("random",), studies=1, trials=2, device="cpu")
    second = dataclasses.replace(first, unavailable={"gp": "a note"})
    paths = [save_comparison(project, first), save_comparison(project, second)]
    assert paths[0] != paths[1] and all(p.is_file() for p in paths)
    assert json.loads(paths[0].read_text())["unavailable"] == {}
    assert load_comparison(project).unavailable == {"gp": "a note"}  # the newest is reported


def test_no_sampler_named_is_refused_before_anything_runs(tmp_path, make_tiny_project, capsys):
    project = make_tiny_project(tmp_path)
    for names in ("", " , ", "tpe,simulated-annealing"):
        assert main(["compare-samplers", str(project.root), "--studies", "1", "--trials", "2",
                     "--samplers", names, "--device", "cpu"]) != 0
        assert "sampler" in capsys.readouterr().err
    assert not project.reports_dir.exists() or not any(project.reports_dir.rglob("*.json"))
