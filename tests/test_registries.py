"""Each concept's registry drives every consumer: an entry added to the
registry's table alone (the module's own source, as a developer would edit
it, loaded in a fresh interpreter) reaches the command line, the window, the
engine and the report, with no second list anywhere to keep in step."""

from __future__ import annotations

import pytest

from support.registry_entry import with_entry

MCC = '''
Measure("mcc", "Matthews correlation coefficient", "Matthews correlation",
        "the correlation of true and predicted classes, -1 to 1 (0: chance)",
        lambda p: float(__import__("sklearn.metrics").metrics.matthews_corrcoef(
            p.labels, p.predicted)),
        objective="validation Matthews correlation",
        shown=(CARD, RUN_LINE, EVIDENCE, EXTERNAL, SAMPLERS)),
'''

MEASURE_CONSUMERS = '''
import argparse, json
import numpy as np
from sklearn.metrics import matthews_corrcoef
from allgui.cli import optimize
from allgui.core.infer.model_file import HEADLINE_METRICS
from allgui.core.model import measures
from allgui.core.report.evidence import HEADLINE
from allgui.core.search.settings import SearchSettings
from allgui.core.train.objective import objective_value
from allgui.core.validation.external import FIGURES
from allgui.core.validation.metrics import RunMetrics, compute_metrics
from allgui.gui.optimize import form

parser = argparse.ArgumentParser()
optimize.register(parser.add_subparsers())
sub = parser._subparsers._group_actions[0].choices["optimize"]
(action,) = [a for a in sub._actions if a.dest == "objective"]
labels = np.array([0, 0, 1, 1, 1, 0, 1])
proba = np.array([[.9, .1], [.4, .6], [.2, .8], [.3, .7], [.6, .4], [.7, .3], [.1, .9]])
test = compute_metrics(labels, proba, ["all", "hem"])
rows = {key: words for key, words, _ in test.measures()}
print(json.dumps({
    "cli": list(action.choices),
    "window": [name for name, _ in form.OBJECTIVES],
    "settings": SearchSettings(objective="mcc").objective,
    "objective": objective_value("mcc", labels, proba, 2),
    "sklearn": float(matthews_corrcoef(labels, proba.argmax(1))),
    "test set": test.headline().get("mcc"),
    "row": rows.get("mcc"),
    "kept in files": RunMetrics.from_dict(test.to_dict()).headline().get("mcc"),
    "run line": measures.run_line(test.headline()),
    "card": list(HEADLINE_METRICS), "report": list(HEADLINE), "external": list(FIGURES),
    "samplers": list(measures.shown_in(measures.SAMPLERS)),
    "report words": measures.short("mcc"),
}))
'''


def test_a_measure_added_to_the_registry_is_an_objective_and_a_figure_everywhere():
    seen = with_entry("allgui.core.model.measures", "MEASURES", MCC, MEASURE_CONSUMERS)
    assert "mcc" in seen["cli"] and "mcc" in seen["window"]  # selectable as the objective
    assert seen["settings"] == "mcc"  # and accepted in project.toml's [search]
    assert seen["objective"] == pytest.approx(seen["sklearn"])  # the search maximises it
    assert seen["test set"] == pytest.approx(seen["sklearn"])  # the same computation
    assert seen["kept in files"] == seen["test set"]  # batch.json keeps it
    assert seen["row"] == "Matthews correlation coefficient"  # tables name it
    assert f"Matthews correlation {seen['test set']:.4f}" in seen["run line"]
    for place in ("card", "report", "external", "samplers"):
        assert "mcc" in seen[place], place
    assert seen["report words"] == "Matthews correlation"


SMOOTHING = '''
Hyperparameter("label_smoothing", "label smoothing", float, "optimiser", 0.0,
               0.0, 0.2, rule=_dropout),
'''

PARAM_CONSUMERS = '''
import argparse, dataclasses, json
from PySide6.QtWidgets import QApplication
app = QApplication([])
from allgui.cli import validate
from allgui.core.model import params
from allgui.core.search.space import PAPER_SPACE, SearchSpace
from allgui.core.train.hparams import HyperParams, configuration
from allgui.gui.optimize.space_editor import SpaceEditor

editor = SpaceEditor()
table = editor.table
parser = argparse.ArgumentParser()
validate.register(parser.add_subparsers())
sub = parser._subparsers._group_actions[0].choices["validate"]
(action,) = [a for a in sub._actions if a.dest == "params"]
_, hp = configuration({"label_smoothing": 0.1}, backbone="resnet18", weights="none",
                      finetune_stages=0, n_classes=2)
print(json.dumps({
    "space": list(PAPER_SPACE.searched),
    "project.toml": SearchSpace.from_dict(PAPER_SPACE.to_dict()).get("label_smoothing").high,
    "window": [table.item(r, 0).text() for r in range(table.rowCount())],
    "cli help": action.help,
    "parsed": params.parse_params("label_smoothing=0.05"),
    "training gets": hp.label_smoothing,
    "untuned": dataclasses.asdict(HyperParams())["label_smoothing"],
    "report order": params.ordered({"batch_size", "label_smoothing", "lr"}),
}))
'''


@pytest.mark.gui
def test_a_hyperparameter_added_to_the_registry_reaches_the_space_the_window_and_training():
    seen = with_entry("allgui.core.model.params", "PARAMS", SMOOTHING, PARAM_CONSUMERS)
    assert "label_smoothing" in seen["space"]  # searched by default, recorded with the study
    assert seen["project.toml"] == 0.2
    assert "label smoothing" in seen["window"]  # a row of the Optimize tab's space
    assert "label_smoothing=0" in seen["cli help"]
    assert seen["parsed"] == {"label_smoothing": 0.05}
    assert seen["training gets"] == 0.1 and seen["untuned"] == 0.0
    assert seen["report order"] == ["lr", "batch_size", "label_smoothing"]  # the registry's order


REGNET = 'BackboneFamily("RegNet", ("regnety_002",)),'

BACKBONE_CONSUMERS = '''
import json
from pathlib import Path
from PySide6.QtWidgets import QApplication
app = QApplication([])
from allgui.core.model.check import check_model_settings
from allgui.core.project import ModelSettings
from allgui.gui.new_project import NewProjectForm
from allgui.gui.optimize.form import SearchForm

forms = NewProjectForm(None, Path("/nonexistent")), SearchForm()
new, search = forms[0].backbone, forms[1].backbone
check_model_settings(ModelSettings(backbone="regnety_002", weights="none", finetune_stages=2))
print(json.dumps({"new project": [new.itemText(i) for i in range(new.count())],
                  "optimize": [search.itemText(i) for i in range(search.count())]}))
'''


@pytest.mark.gui
def test_a_backbone_family_added_to_the_registry_is_offered_by_both_forms():
    seen = with_entry("allgui.core.model.backbones", "FAMILIES", REGNET, BACKBONE_CONSUMERS)
    assert "regnety_002" in seen["new project"] and "regnety_002" in seen["optimize"]
    assert seen["new project"] == seen["optimize"]
