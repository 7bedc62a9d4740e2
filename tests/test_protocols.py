"""The two named protocols end to end: a project made with one, searched,
validated and reported, with its methods and deviations generated from what
was recorded; the demo's validation on the backbone its search tuned."""

from __future__ import annotations

import re
from html import unescape

import numpy as np
import pytest
import torch

from allgui.cli import main
from allgui.core import protocols
from allgui.core.dataset.demo import make_demo_dataset
from allgui.core.project import Project
from allgui.core.search.runner import SearchSettings, run_search

torch.set_num_threads(1)

# Small enough for a CPU in seconds; what the tests check does not depend on it.
QUICK_SEARCH = ["--backbone", "mobilenetv3_small_050", "--weights", "none", "--trials", "2",
                "--epochs", "2", "--views", "2", "--startup-trials", "1", "--device", "cpu",
                "--quiet"]
QUICK_VALIDATE = ["--runs", "1", "--epochs", "2", "--device", "cpu", "--quiet"]


def demo_data(tmp_path):
    return make_demo_dataset(tmp_path / "data", patients_all=3, patients_hem=3,
                             images_per_patient=4, size=32, unlabelled_images=0, folds=1)


def new(tmp_path, protocol: str | None, name: str = "proj") -> Project:
    args = ["new", str(tmp_path / name), "--data", str(demo_data(tmp_path)), "--image-size", "32"]
    assert main(args + (["--protocol", protocol] if protocol else [])) == 0
    return Project.open(tmp_path / name)


def test_new_with_the_paper_protocol_sets_the_studys_method(tmp_path, capsys):
    project = new(tmp_path, "paper")
    s = project.settings
    assert s.protocol == "paper" and s.split.method == "image"
    search = SearchSettings.from_project(project)
    assert (search.augment_probability, search.multivariate, search.startup_trials,
            search.precision, search.val_loss, search.trials, search.epochs) == (
        1.0, False, 10, "fp16", "weighted", 20, 10)
    assert s.validation == {"runs": 3, "epochs": 40, "patience": 10, "views": "fresh",
                            "baseline": "none", "probe": False}
    assert "Image-level split" in capsys.readouterr().out  # the leakage warning


def test_new_defaults_to_the_recommended_protocol_and_split_wins(tmp_path):
    project = new(tmp_path, None)
    assert project.settings.protocol == "recommended"
    assert project.settings.split.method == "patient"
    assert SearchSettings.from_project(project).augment_probability == 0.5
    assert main(["new", str(tmp_path / "other"), "--data", str(tmp_path / "data"),
                 "--protocol", "paper", "--split", "patient"]) == 0
    assert Project.open(tmp_path / "other").settings.split.method == "patient"


def test_the_protocol_is_one_setting_switched_at_once(tmp_path, capsys):
    project = new(tmp_path, "recommended")
    project.update(search={**project.settings.search, "study_name": "mine", "seed": 7})
    capsys.readouterr()
    assert main(["protocol", str(project.root), "paper"]) == 0
    out = capsys.readouterr().out
    assert "recommended -> paper" in out and "shear factor of 0.1" in out  # its readings said
    after = Project.open(project.root).settings
    assert after.protocol == "paper" and after.split.method == "image"
    assert after.search["augment_probability"] == 1.0 and after.search["multivariate"] is False
    assert after.search["study_name"] == "mine" and after.search["seed"] == 7  # others kept
    assert after.validation["baseline"] == "none"


def test_a_protocol_says_a_reason_for_each_of_its_choices():
    for c in protocols.CHOICES:
        assert c.reason.endswith(".") and c.study, c.key
    # Where the study is ambiguous, the paper protocol says how it reads it.
    read = {c.key for c in protocols.CHOICES if c.reading}
    assert {"search.augment_shear", "search.val_loss", "search.trial_value"} <= read
    described = protocols.protocol("recommended").describe()
    assert len(described) == 1 + len(protocols.CHOICES)


def _report_text(project: Project) -> str:
    from allgui.core.report.build import write_report

    files = write_report(project, resamples=50)
    html = files.html.read_text(encoding="utf-8")
    assert files.pdf is not None and files.pdf.stat().st_size > 0
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def _section(text: str, start: str, end: str) -> str:
    return text[text.index(start):text.index(end, text.index(start))]


def test_paper_protocol_runs_the_studys_method_and_lists_only_what_cannot_match(tmp_path,
                                                                                capsys):
    project = new(tmp_path, "paper")
    assert main(["optimize", str(project.root), *QUICK_SEARCH]) == 0
    out = capsys.readouterr().out
    assert "Augmentation: every training image transformed" in out
    assert main(["validate", str(project.root), *QUICK_VALIDATE]) == 0
    from allgui.core.validation.batch import latest_batch

    batch = latest_batch(project)
    assert batch.baseline is None and batch.probe is None  # no extra baselines
    assert batch.model.views == 2  # fresh: one view per epoch
    training = batch.model.training
    assert training["augmentation"]["probability"] == 1.0
    assert training["val_loss"] == "weighted" and training["precision"] == "fp16"
    assert training["precision_used"] == "fp32"  # a CPU
    weights = training["class_weights"]
    labels = np.array([batch.classes.index(c) for c in batch.classes
                       for _ in range(batch.dataset.parts["train"].images[c])])
    assert weights == {c: pytest.approx(len(labels) / (2 * (labels == i).sum()), abs=1e-5)
                       for i, c in enumerate(batch.classes)}
    # The model card carries the same record.
    from allgui.core.model.checkpoint import read_checkpoint_info

    card = read_checkpoint_info(batch.runs[0].checkpoint)[0].card
    assert card.training["augmentation"]["probability"] == 1.0
    assert card.training["protocol"] == "paper"

    text = _report_text(project)
    methods = _section(text, "Methods as run", "Deviations from the published study")
    assert "every training image transformed" in methods
    for c, w in weights.items():
        assert f"{c} {w:.4g}" in methods
    assert "independent (Optuna default)" in methods and "AdamW" in methods
    deviations = _section(text, "Deviations from the published study", "Hyperparameter search")
    rows = re.findall(r"(Trials|Epochs per trial|Epochs per final run|Final runs|Image size|"
                      r"Backbone|Precision as computed|Framework|ImageNet weights|"
                      r"Share of images transformed|Split|Multivariate TPE|Linear probe|"
                      r"Baseline runs|Validation loss)\s", deviations)
    # What this test shortened, the demo's backbone, size and CPU, and what no setting matches.
    assert set(rows) == {"Trials", "Epochs per trial", "Epochs per final run", "Final runs",
                         "Image size", "Backbone", "Precision as computed", "Framework",
                         "ImageNet weights"}
    assert "0 of allgui's recommended choices" in deviations
    assert "Augmentation in the search: every training image transformed" in text


def test_recommended_protocol_lists_each_choice_with_its_reason(tmp_path):
    from allgui.core.report.deviations import deviation_rows
    from allgui.core.report.methods import as_run
    from allgui.core.report.study_facts import read_study

    project = new(tmp_path, "recommended")
    assert main(["optimize", str(project.root), *QUICK_SEARCH]) == 0
    rows = {r[0]: r for r in deviation_rows(as_run(project, None,
                                                   read_study(project, importances=False)))}
    for key in ("search.augment_probability", "search.multivariate", "search.precision",
                "search.val_loss", "split.method"):
        c = protocols.BY_KEY[key]
        assert rows[c.label][3] == "allgui's recommended protocol: " + c.reason


def test_demo_validation_builds_the_backbone_its_search_tuned(tmp_path, make_tiny_project):
    """With random backbone weights (the demo) the search builds its backbone
    after seeding; validation must build that same backbone, or it validates
    a head on features it never saw. Sharing the search's views, it then
    reuses the search's cached features instead of computing new ones."""
    from allgui.core.validation.run import ValidationSettings, run_batch

    project = make_tiny_project(tmp_path)
    run_search(project, SearchSettings(trials=1, epochs=1, views=2, startup_trials=1,
                                       device="cpu"))
    features = project.cache_dir / "features"
    before = {p.name for p in features.iterdir() if p.name != "plain"}
    run_batch(project, ValidationSettings(runs=1, epochs=1, views=2, device="cpu",
                                          independent_views=False, probe=False))
    after = {p.name for p in features.iterdir() if p.name != "plain"}
    assert after == before  # the same backbone: the search's features, no new pass


def test_validation_loss_weighting_and_trial_value_are_settings():
    from allgui.core.model.classifier import ModelConfig
    from allgui.core.train.loop import FitConfig, HyperParams, TrainSettings, fit
    from allgui.core.train.sources import CachedViews, TrainingData

    rng = np.random.default_rng(0)
    y = np.array([0] * 18 + [1] * 6)
    x = rng.integers(0, 60, (24, 32, 32, 3)).astype(np.uint8)
    x[y == 1, 8:24, 8:24, 0] = 220
    data = TrainingData(x, y, x[12:], y[12:], ("a", "b"), key="imbalanced")
    config = ModelConfig(backbone="test_efficientnet", weights="none", n_classes=2)

    def run(**settings):
        return fit(FitConfig(config, HyperParams(lr=3e-3, batch_size=8), epochs=3, seed=0,
                             settings=TrainSettings(views=3, **settings)), CachedViews(data),
                   device="cpu")

    plain, weighted = run(), run(val_loss="weighted")
    assert plain.history[0].val_loss != pytest.approx(weighted.history[0].val_loss)
    last = run(trial_value="last_epoch")
    assert last.value == last.history[-1].objective
    best = run(trial_value="best_epoch_objective")
    assert best.value == max(h.objective for h in best.history)


def test_methods_name_the_views_computed_not_those_set_beyond_the_epochs():
    # A 3-epoch search with 10 views set computes 3 (the cap in train/views.py);
    # the methods once said "10 views computed once".
    from allgui.core.report.methods import _views_text
    text = _views_text("cached", 10, 3)
    assert text.startswith("3 augmented views computed once") and "capped" in text
    assert _views_text("cached", 3, 10).startswith("3 augmented views computed once and cycled")
    assert _views_text("cached", 10, 10).startswith("10 augmented views computed once, one")
