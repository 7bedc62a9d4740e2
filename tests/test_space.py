"""The search space and search settings: the paper's preset, editing, storage."""

from __future__ import annotations

import pytest

from allgui.core.project import Project, ProjectSettings
from allgui.core.search.runner import SearchError, SearchSettings
from allgui.core.search.space import PAPER_SPACE, Param, SearchSpace, SearchSpaceError


def test_paper_preset_is_table_1():
    d = PAPER_SPACE.to_dict()
    assert d["lr"] == {"low": 1e-5, "high": 1e-2, "log": True}
    assert d["weight_decay"] == {"low": 1e-6, "high": 1e-2, "log": True}
    assert d["dropout1"] == {"low": 0.1, "high": 0.5, "log": False}
    assert d["dropout2"] == {"low": 0.1, "high": 0.4, "log": False}
    assert d["hidden"] == {"choices": [256, 512, 768, 1024]}
    assert d["batch_size"] == {"choices": [32, 40, 48, 56, 64]}
    s = SearchSettings()
    assert (s.trials, s.epochs, s.objective) == (20, 10, "accuracy")


def test_edited_space_round_trips_through_project_toml(tmp_path):
    space = (PAPER_SPACE
             .with_param(Param("lr", 1e-4, 1e-3, log=True))
             .with_param(Param("hidden", search=False, fixed=768, choices=(256, 768)))
             .with_param(Param("backbone", choices=("efficientnet_b0", "resnet18"))))
    settings = SearchSettings(trials=7, objective="weighted_f1", pruning="median", space=space)
    project = Project.create(tmp_path / "p", ProjectSettings())
    project.update(search=settings.to_dict())
    again = SearchSettings.from_project(Project.open(tmp_path / "p"))
    assert again == settings
    assert again.space.searched == ("lr", "weight_decay", "dropout1", "dropout2",
                                    "batch_size", "backbone")
    assert again.space.get("hidden").fixed == 768


@pytest.mark.parametrize(
    "param, words",
    [
        (Param("lr", 1e-2, 1e-5, log=True), "must be below high"),
        (Param("weight_decay", 0.0, 1e-2, log=True), "must start above 0"),
        (Param("dropout1", 0.1, 1.5), "below 1"),
        (Param("hidden", choices=(256, 0)), "at least 1"),
        (Param("batch_size", 8, 64), "needs a list of choices"),
        (Param("dropout2", search=False), "no fixed value"),
        (Param("momentum", 0.1, 0.9), "not a parameter allgui knows"),
    ],
)
def test_unusable_ranges_are_plain_errors(param, words):
    with pytest.raises(SearchSpaceError, match=words):
        PAPER_SPACE.with_param(param)


def test_unknown_or_bad_settings_are_plain_errors():
    with pytest.raises(SearchError, match="does not know: colour"):
        SearchSettings.from_dict({"colour": "blue"})
    with pytest.raises(SearchError, match="objective must be one of"):
        SearchSettings(objective="precision")
    with pytest.raises(SearchSpaceError, match="does not know: step"):
        SearchSpace.from_dict({"lr": {"low": 1e-5, "high": 1e-2, "step": 1}})
