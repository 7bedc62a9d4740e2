"""No backbone pass made twice: a job computes only the views its epochs read,
validation runs share the search's views unless fresh ones are asked for (and
then the cost is said), the linear probe reads the features the runs read
(no backbone pass of its own) with progress and is not refitted for an
unchanged split, and its C is chosen by cross-validation on training +
validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from allgui.core.events import EventLog, Notice, Progress
from allgui.core.project import ModelSettings, Project, ProjectSettings
from allgui.core.train import runtime as R
from allgui.core.train.views import unused_views_note, views_read

from support.training_data import make_data

torch.set_num_threads(1)
TINY = {"lr": 3e-3, "hidden": 16, "batch_size": 16}


def _cache_files(project: Project) -> dict[str, int]:
    """Every file under the project's feature and probe caches, with its mtime."""
    root = project.cache_dir
    return {str(p.relative_to(root)): p.stat().st_mtime_ns
            for sub in ("features", "probe") if (root / sub).is_dir()
            for p in (root / sub).rglob("*.npy*")}


def _views(files) -> set[str]:
    return {f for f in files if "train_view_" in f}


def test_views_read_are_capped_by_the_epochs_and_said():
    assert views_read(10, 5) == 5 and views_read(10, 40) == 10 and views_read(3, 0) == 1
    assert unused_views_note(10, 40) == ""
    note = unused_views_note(10, 5)
    assert "5 are computed" in note and "10 views" in note


def test_a_search_computes_only_the_views_its_epochs_read(tmp_path):
    from allgui.core.search.runner import SearchSettings, run_search

    R.forget_sessions()
    project = Project.create(tmp_path / "p", ProjectSettings(
        model=ModelSettings(backbone="test_efficientnet", weights="none")))
    log = EventLog()
    run_search(project, SearchSettings(trials=1, epochs=2, views=5, startup_trials=1,
                                       device="cpu"), log, data=make_data(16, 8))
    views = _views(_cache_files(project))
    assert len(views) == 2  # epochs 1 and 2 read views 0 and 1; views 2-4 were never read
    notes = [e.text for e in log.of_type(Notice)]
    assert any("read only 2" in t for t in notes), notes


def test_validation_shares_the_search_views_and_the_probe_reads_the_cache(
        tmp_path, make_tiny_project):
    from allgui.core.dataset.prepared import prepare_project_data
    from allgui.core.search.runner import SearchSettings, run_search
    from allgui.core.validation import ValidationSettings, run_batch

    R.forget_sessions()
    project = make_tiny_project(tmp_path / "v")
    prepared = prepare_project_data(project)
    run_search(project, SearchSettings(trials=1, epochs=2, views=2, startup_trials=1,
                                       device="cpu"))
    after_search = _cache_files(project)
    assert len(_views(after_search)) == 2

    first_log = EventLog()
    first = run_batch(project, ValidationSettings(runs=2, epochs=2, params=TINY),
                      sink=first_log, prepared=prepared)
    assert first.status == "finished" and first.model.shared_views
    after_first = _cache_files(project)
    # The runs trained on the search's views: no view computed again or anew.
    assert _views(after_first) == _views(after_search)
    assert all(after_first[f] == after_search[f] for f in after_search)
    # The probe's plain features came through the cache with progress to the end.
    probe = [e for e in first_log.of_type(Progress) if e.phase == "probe features"]
    assert probe and probe[-1].done == probe[-1].total == (
        len(prepared.train.images) + len(prepared.val.images) + len(prepared.test.images))
    assert not any("Views of their own" in e.text for e in first_log.of_type(Notice))

    second_log = EventLog()
    second = run_batch(project, ValidationSettings(runs=2, epochs=2, params=TINY),
                       sink=second_log, prepared=prepared)
    assert _cache_files(project) == after_first  # nothing computed or refitted again
    assert not [e for e in second_log.of_type(Progress) if e.phase == "probe fits"]
    assert second.probe.params["C"] == first.probe.params["C"]
    assert np.allclose([r.metrics.headline()["accuracy"] for r in second.probe_runs],
                       [r.metrics.headline()["accuracy"] for r in first.probe_runs])

    fresh_log = EventLog()
    fresh = run_batch(project, ValidationSettings(runs=2, epochs=2, params=TINY, probe=False,
                                                  independent_views=True),
                      sink=fresh_log, prepared=prepared)
    assert not fresh.model.shared_views
    costs = [e.text for e in fresh_log.of_type(Notice) if "Views of their own" in e.text]
    n_train = len(prepared.train.images)
    assert costs and f"{2 * 2 * n_train:,} backbone passes" in costs[0]
    assert len(_views(_cache_files(project))) > len(_views(after_first))  # seed 1's own views


class _Passes:
    """Counts images through the frozen backbone: every feature pass (cached,
    plain or a probe's) goes through features.extract, which still runs."""

    def __init__(self, monkeypatch) -> None:
        from allgui.core.train import features

        self.images = 0
        real = features.extract

        def counted(model, images, *args, **kwargs):
            self.images += len(images)
            return real(model, images, *args, **kwargs)

        monkeypatch.setattr(features, "extract", counted)


def test_the_probe_makes_no_backbone_pass_of_its_own(tmp_path, make_tiny_project, monkeypatch):
    """The probe extracted plain features of the training images, which no run
    reads: a pass per training image in every first batch. It now trains on the
    runs' first view, so a validation after the search passes only the test set
    (once, shared by the probe and the runs); plain features stay the user's
    choice, recorded, with the cost said."""
    from allgui.core.dataset.prepared import prepare_project_data
    from allgui.core.search.runner import SearchSettings, run_search
    from allgui.core.validation import ValidationSettings, run_batch
    from allgui.core.validation.batch import load_batch

    R.forget_sessions()
    project = make_tiny_project(tmp_path / "v")
    prepared = prepare_project_data(project)
    n_train, n_test = len(prepared.train.images), len(prepared.test.images)
    run_search(project, SearchSettings(trials=1, epochs=2, views=2, startup_trials=1,
                                       device="cpu"))
    passes = _Passes(monkeypatch)
    log = EventLog()
    batch = run_batch(project, ValidationSettings(runs=1, epochs=2, params=TINY),
                      sink=log, prepared=prepared)
    assert batch.probe is not None and batch.runs_of("probe")
    assert passes.images == n_test  # the test set once; no training image again
    recorded = load_batch(batch.path).probe
    assert recorded.params["features"] == "view" and recorded.params["views"] == 1
    assert "first training view the runs read" in recorded.source
    probe = [e for e in log.of_type(Progress) if e.phase == "probe features"]
    assert probe[-1].done == probe[-1].total

    passes.images = 0
    plain_log = EventLog()
    plain = run_batch(project, ValidationSettings(runs=1, epochs=2, params=TINY,
                                                  probe_features="plain"),
                      sink=plain_log, prepared=prepared)
    assert passes.images == n_train  # the plain training features, for the probe alone
    assert plain.probe.params["features"] == "plain" and "plain" in plain.probe.source
    costs = [e.text for e in plain_log.of_type(Notice) if "no run reads" in e.text]
    assert costs and f"{n_train:,} backbone passes" in costs[0]


def test_the_probe_on_every_view_keeps_an_image_s_views_in_one_fold():
    """Views of one image on both sides of a fold would score the probe on images
    it trained on: labels with no signal at all then looked learnable. The folds
    keep an image's views together, so chance stays chance."""
    from allgui.core.validation.probe import fit_probe

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 60)), np.arange(40) % 2  # labels unrelated to x
    xv, yv = rng.normal(size=(20, 60)), np.arange(20) % 2
    views = np.concatenate([x + rng.normal(scale=0.01, size=x.shape) for _ in range(3)])
    images = np.tile(np.arange(len(x)), 3)
    leaky = fit_probe(views, np.tile(y, 3), xv, yv)  # every row its own image
    grouped = fit_probe(views, np.tile(y, 3), xv, yv, train_images=images)
    assert leaky.cv_balanced_accuracy > 0.7  # what the folds claimed without groups
    assert grouped.cv_balanced_accuracy < 0.65 and grouped.folds == 5
    assert grouped.val_proba.shape == (len(yv), 2)


def _probe_data(seed: int, d: int = 100, n_train: int = 24, n_val: int = 36):
    """Two classes a little apart in many noisy dimensions: C matters."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=d)

    def part(n):
        y = np.arange(n) % 2
        return rng.normal(size=(n, d)) + np.outer(y * 2 - 1, w) * 0.15, y

    return part(n_train), part(n_val), part(2000)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_probe_matches_an_independent_cross_validated_probe(seed):
    """The app's probe chose C on the validation part alone, where most values
    tie, and trained on the training part only: an independent probe on the
    same split did far better. Now C comes from cross-validation on both."""
    import warnings

    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from allgui.core.validation.probe import C_GRID, fit_probe

    (xt, yt), (xv, yv), (xs, ys) = _probe_data(seed)
    seen = []
    probe = fit_probe(xt, yt, xv, yv, progress=lambda d, t: seen.append((d, t)))
    assert probe.folds == 5 and seen[-1][0] == seen[-1][1] == len(C_GRID) * 5 + 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        independent = make_pipeline(StandardScaler(), LogisticRegressionCV(
            Cs=list(C_GRID), cv=5, scoring="neg_log_loss", class_weight="balanced",
            max_iter=2000)).fit(np.concatenate([xt, xv]), np.concatenate([yt, yv]))
    ours = float((probe.predict_proba(xs).argmax(1) == ys).mean())
    theirs = float((independent.predict(xs) == ys).mean())
    assert ours >= theirs - 0.02, (ours, theirs)
    assert probe.val_proba.shape == (len(yv), 2)  # out-of-fold: for calibration
