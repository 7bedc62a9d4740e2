"""The model card travels with the model: checkpoint -> ONNX file -> the
classifier, with ``trial`` None for a model not from a trial; the batch's
provenance records round-trip, and older files still read."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from allgui.core.export.onnx import ExportMetadata, export_onnx
from allgui.core.infer import read_model_info
from allgui.core.model import card as card_module
from allgui.core.model.card import KEYS, ModelCard, Provenance
from allgui.core.model.checkpoint import read_checkpoint_info, save_checkpoint
from allgui.core.validation.batch import Batch, load_batch
from allgui.core.validation.provenance import (
    DatasetRecord,
    ModelRecord,
    PartCount,
    SplitRecord,
    StudySummary,
)

from support.onnx_models import CLASSES, tiny_model

torch.set_num_threads(1)

CARD = ModelCard(
    classes=CLASSES, positive_class="all", input_size=64, synthetic=True,
    provenance=Provenance(project="/p/demo", dataset="/data/demo", split_method="patient",
                          study="search", trial=None, run=2, seed=7,
                          test_set="held-out patients (6 images)"),
    metrics={"weighted_f1": 0.75, "auc_roc": 0.8},
)


def _imports(module, module_level_only: bool = False) -> set[str]:
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    names: list[str] = []
    for node in (tree.body if module_level_only else ast.walk(tree)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    return set(names)


def test_card_imports_only_the_standard_library():
    # and the measures registry (its metrics' names), which does too when
    # imported: numpy and scikit-learn only when a measure is computed
    from allgui.core.model import measures

    names = _imports(card_module) - {"allgui.core.model.measures"}
    for imported in (names, _imports(measures, module_level_only=True)):
        top = {name.split(".")[0] for name in imported}
        assert top and top <= set(sys.stdlib_module_names) | {"__future__"}
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, allgui.core.model.card; "
         "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'sklearn', 'torch'}))"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_card_round_trips_and_old_trial_minus_one_reads_as_none():
    stored = CARD.to_dict()
    assert tuple(stored) == KEYS and stored["trial"] is None
    assert ModelCard.from_dict(json.loads(json.dumps(stored))) == CARD
    old = ModelCard.from_dict({**stored, "trial": -1, "synthetic": False})
    assert old.provenance.trial is None and not old.synthetic
    assert ModelCard.from_dict({"trial": 4}).provenance.trial == 4
    assert ModelCard.from_dict({}) == ModelCard()
    with pytest.raises((TypeError, ValueError)):
        ModelCard.from_dict({"synthetic": "yes"})


def test_card_goes_checkpoint_to_onnx_to_the_classifier(tmp_path):
    model = tiny_model(seed=2)
    ckpt = tmp_path / "run-2" / "checkpoint.pt"
    save_checkpoint(ckpt, model, model.config, {"best_epoch": 3}, card=CARD)
    info, _ = read_checkpoint_info(ckpt)
    assert info.card == CARD
    assert (info.class_names, info.image_size) == (CLASSES, 64)  # the card said them
    assert info.extra["best_epoch"] == 3 and info.extra["seed"] == 7

    read = read_model_info(export_onnx(ckpt, tmp_path / "m.onnx").path)
    assert read.card == CARD
    assert (read.classes, read.positive_class, read.input_size) == (CLASSES, "all", 64)
    assert (read.study, read.trial, read.run, read.test_set) == (
        "search", None, 2, "held-out patients (6 images)")
    assert dict(read.metrics) == {"weighted_f1": 0.75, "auc_roc": 0.8}

    # What the exporter is told wins over the checkpoint's card.
    told = ExportMetadata(study="other", trial=5, metrics={"accuracy": 0.5})
    read = read_model_info(export_onnx(ckpt, tmp_path / "told.onnx", told).path)
    assert (read.study, read.trial, read.run) == ("other", 5, 2)
    assert dict(read.metrics) == {"accuracy": 0.5} and read.card.synthetic


def test_checkpoint_of_an_older_version_reads_trial_minus_one_as_none(tmp_path):
    model = tiny_model(seed=4)
    ckpt = tmp_path / "old.pt"
    save_checkpoint(ckpt, model, model.config,
                    {"seed": 1, "run": 1, "trial": -1, "study": "s", "test_set": "t",
                     "metrics": {"accuracy": 0.6, "auc_roc": None}, "positive_class": "all"},
                    class_names=CLASSES, image_size=64)
    info, _ = read_checkpoint_info(ckpt)
    assert info.card.provenance == Provenance(study="s", trial=None, run=1, seed=1, test_set="t")
    assert info.card.metrics == {"accuracy": 0.6} and info.card.positive_class == "all"
    read = read_model_info(export_onnx(ckpt, tmp_path / "old.onnx").path)
    assert read.trial is None and read.run == 1 and read.positive_class == "all"


def _batch_dict() -> dict:
    return {
        "format": "allgui-validation-batch", "batch_id": "b1",
        "created": "2026-01-01T00:00:00+00:00", "status": "finished",
        "tuned": {"params": {"lr": 1e-3}, "source": "entered by the user", "trial": None},
        "baseline": None, "seeds": [0], "max_epochs": 2, "patience": 1,
        "test_source": "held-out", "test_set": "held-out part", "classes": ["all", "hem"],
        "positive_class": "all", "environment": {}, "runs": [],
    }


def test_batch_provenance_round_trips_through_batch_json(tmp_path):
    records = dict(
        model=ModelRecord("resnet18", "none", 32, "cached", 10, 0),
        split=SplitRecord("patient", 0, False, "held-out", 0.2, 0.15,
                          {"train": 8, "val": 2, "test": 2}, (), ("a warning",)),
        study=StudySummary("search", "maximize", "validation accuracy", "k1"),
        dataset=DatasetRecord("/data", "cnmc", True, {"per_subset": {}},
                              {"train": PartCount({"all": 4, "hem": 4}, 3),
                               "test": PartCount({"all": 1, "hem": 1}, None)},
                              {"verdict": "No leakage found"}, 1),
    )
    folder = tmp_path / "b1"
    folder.mkdir()
    batch = Batch.from_dict({**_batch_dict(), **{k: v.to_dict() for k, v in records.items()}},
                            folder)
    batch.save()
    again = load_batch(folder)
    for name, record in records.items():
        assert getattr(again, name) == record
    saved = json.loads((folder / "batch.json").read_text())
    assert saved["dataset"]["parts"]["test"]["patients"] == "unknown"  # as before


def test_batch_json_of_an_older_version_still_reads(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "batch.json").write_text(json.dumps({
        **_batch_dict(), "model": {"backbone": "resnet18", "weights": "none", "image_size": 32,
                                   "mode": "cached"},
        "split": {"method": "image", "seed": 3, "leaky": True}}))
    batch = load_batch(folder)  # no study, no dataset, no views: empty records
    assert batch.model == ModelRecord("resnet18", "none", 32, "cached")
    # Written before the augmentation's probability was recorded: every image transformed.
    assert batch.model.augment_probability == 1.0
    assert "Every training image was transformed" in batch.model.views_note()
    assert (batch.split.method, batch.split.seed, batch.split.leaky) == ("image", 3, True)
    assert batch.study == StudySummary() and batch.dataset.empty
