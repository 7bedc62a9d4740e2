"""The hyperparameter registry is the one source: the space, the CLI's help
and columns, the report's order, validation's parser and the untuned
defaults all say what it says."""

from __future__ import annotations

import argparse
import dataclasses
from types import SimpleNamespace

import pytest

from allgui.core.errors import AllguiError
from allgui.core.model import params
from allgui.core.search.space import PAPER_SPACE, SearchSpace
from allgui.core.train.hparams import configuration


def test_the_space_is_the_registrys():
    ranged = [p for p in params.PARAMS if p.choices or p.low is not None]
    assert [p.name for p in PAPER_SPACE.params] == [p.name for p in ranged]
    for p in ranged:
        s = PAPER_SPACE.get(p.name)
        assert (s.low, s.high, s.log, s.choices) == (p.low, p.high, p.log, p.choices)
        assert s.describe().startswith(p.label + " ")  # the space speaks the registry's words
    # The registry's checks are the space's: a bad value is refused in its words.
    with pytest.raises(AllguiError, match="dropout 2: 1.2 must be at least 0 and below 1"):
        SearchSpace.from_dict({"dropout2": {"search": False, "fixed": 1.2}})


def test_untuned_defaults_are_the_models_and_optimisers_defaults():
    from allgui.core.model.classifier import ModelConfig
    from allgui.core.train.loop import HyperParams
    model, hp = dataclasses.asdict(ModelConfig()), dataclasses.asdict(HyperParams())
    for p in params.PARAMS:
        if p.default is None:
            continue
        where = model if p.goes_to == "model" else hp
        assert where[p.name] == p.default
    assert params.untuned_defaults() is not params.untuned_defaults()  # a fresh copy


def test_configuration_puts_each_value_where_the_registry_says():
    config, hp = configuration(
        {"lr": 2e-3, "hidden": 768.0, "dropout2": 0.25, "batch_size": 48, "backbone": "x"},
        backbone="resnet18", weights="none", finetune_stages=1, n_classes=3)
    assert (config.backbone, config.weights, config.finetune_stages, config.n_classes) == (
        "x", "none", 1, 3)
    assert (config.hidden, config.dropout1, config.dropout2) == (768, 0.3, 0.25)
    assert isinstance(config.hidden, int)
    assert (hp.lr, hp.weight_decay, hp.batch_size) == (2e-3, 1e-4, 48)
    config, _ = configuration({}, backbone="resnet18", weights="imagenet",
                                     finetune_stages=0, n_classes=2)
    assert config.backbone == "resnet18"  # the model's own when no value names one


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("dropout1=1.5", "dropout 1: 1.5 must be at least 0 and below 1"),
        ("lr=0", "learning rate: 0 must be above 0"),
        ("weight_decay=-1", "weight decay: -1 cannot be negative"),
        ("batch_size=0", "batch size: 0 must be a whole number of at least 1"),
        ("hidden=1.5", "hidden must be a whole number, not '1.5'"),
        ("lr=nan", "learning rate: nan is not a finite number"),
        ("momentum=0.9", "'momentum' is not a setting a run takes; use lr, weight_decay"),
    ],
)
def test_validation_parser_checks_each_value_by_the_registry(text, words):
    with pytest.raises(AllguiError, match=words.replace("(", r"\(")):
        params.parse_params(text)


def test_parameters_are_ordered_as_the_registry_lists_them():
    assert params.ordered({"weights": 1, "hidden": 1, "lr": 1, "backbone": 1}) == [
        "lr", "hidden", "backbone", "weights"]


def test_cli_columns_and_help_come_from_the_registry():
    from allgui.cli import optimize, validate

    result = SimpleNamespace(
        top=lambda n: [SimpleNamespace(number=3, params={**params.UNTUNED, "backbone": "b0"},
                                       value=0.9, val_accuracy=0.9, best_epoch=2,
                                       epochs_run=3, duration_s=1.0)],
        objective="accuracy", study_name="s", n_complete=1, n_pruned=0, n_failed=0,
        duration_s=1.0, features_s=0.0, settings=SimpleNamespace(pruning="none"), trials=[],
        counts=lambda: "1 complete")
    header = optimize.format_table(result).splitlines()[1].split("  ")
    header = [h.strip() for h in header if h.strip()]
    ranged = [p.label for p in params.PARAMS if p.choices or p.low is not None]
    assert header[1:1 + len(ranged)] == ranged
    assert header[1 + len(ranged)] == params.label("backbone")
    assert "1.00e-03" in optimize.format_table(result)  # lr is log-scale: e-notation

    parser = argparse.ArgumentParser()
    validate.register(parser.add_subparsers())
    sub = parser._subparsers._group_actions[0].choices["validate"]
    (action,) = [a for a in sub._actions if a.dest == "params"]
    assert params.untuned_example() in action.help
    assert ", ".join(params.NAMES) in action.help
