"""Augmentation, cached features and the training loop (tiny backbone, 32 px, CPU)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from allgui.core.errors import Cancelled, DatasetError
from allgui.core.events import EpochEnded, EventLog, Progress
from allgui.core.model.classifier import ModelConfig, build_model
from allgui.core.train.augment import (
    AugmentSettings,
    apply_affine,
    random_affine_matrices,
    to_float_nchw,
    view_generator,
)
from allgui.core.train.features import build_feature_set
from allgui.core.train.loop import (
    FitConfig,
    HyperParams,
    TrainingDiverged,
    TrainSettings,
    class_weights,
    fit,
)
from allgui.core.train.predict import predict_proba
from allgui.core.train.sources import CachedViews, OnlineImages, TrainingData

from support.training_data import make_data

torch.set_num_threads(1)
CONFIG = ModelConfig(backbone="test_efficientnet", weights="none", hidden=16)


def test_augmentation_draws_per_image_and_repeats_per_view():
    every = AugmentSettings(probability=1.0)  # every image transformed, as Keras does
    m1 = random_affine_matrices(8, view_generator(3, 0), every)
    m2 = random_affine_matrices(8, view_generator(3, 0), every)
    m3 = random_affine_matrices(8, view_generator(3, 1), every)
    assert torch.equal(m1, m2)  # same (seed, view): same draws
    assert not torch.equal(m1, m3)
    assert len({tuple(m.flatten().tolist()) for m in m1}) == 8  # one draw per image
    # Within the paper's ranges: rotation <= 15 degrees, zoom 0.9..1.1, shift <= 10 %.
    det = torch.det(m1[:, :, :2].double()).abs()
    assert ((det > 0.9**2 * 0.99) & (det < 1.1**2 * 1.01)).all()
    bound = 0.2 * (np.cos(np.radians(15)) + np.sin(np.radians(15)))  # rotated 10 % shift
    assert (m1[:, :, 2].abs() <= bound + 1e-6).all()


def test_half_the_images_of_a_view_stay_exact_so_the_head_sees_plain_features():
    # With a frozen backbone the head is scored on plain images' features; a
    # resampled image never is one (bilinear softening, repeated border).
    images = np.random.default_rng(0).integers(0, 255, (400, 16, 16, 3)).astype(np.uint8)
    x = to_float_nchw(images, "cpu")
    m = random_affine_matrices(400, view_generator(0, 3))
    out = apply_affine(x, m)
    plain = (out - x).abs().amax(dim=(1, 2, 3)) < 1e-5
    mirrored = (out - x.flip(3)).abs().amax(dim=(1, 2, 3)) < 1e-5
    exact = plain | mirrored
    assert 0.4 < float(exact.float().mean()) < 0.6
    assert plain.any() and mirrored.any()  # the flip still applies to exact images
    # The others are transformed as the paper's draws are, drawn before the choice.
    every = random_affine_matrices(400, view_generator(0, 3), AugmentSettings(probability=1.0))
    assert torch.equal(m[~exact], every[~exact])
    assert not bool(((apply_affine(x, every) - x).abs().amax(dim=(1, 2, 3)) < 1e-5).any())


def test_augmentation_without_change_is_the_identity_and_flip_mirrors():
    images = np.random.default_rng(0).integers(0, 255, (3, 16, 16, 3)).astype(np.uint8)
    x = to_float_nchw(images, "cpu")
    none = AugmentSettings(rotation_deg=0, shift=0, shear=0, zoom=0, hflip=False)
    same = apply_affine(x, random_affine_matrices(3, view_generator(0, 0), none))
    assert torch.allclose(same, x, atol=1e-5)
    mirrored = torch.tensor([[[-1.0, 0, 0], [0, 1, 0]]]).repeat(3, 1, 1)
    assert torch.allclose(apply_affine(x, mirrored), x.flip(3), atol=1e-5)


def test_class_weights_follow_the_training_split():
    w = class_weights(np.array([0, 0, 0, 1]), 2)
    assert np.allclose(w, [4 / (2 * 3), 4 / (2 * 1)])


def test_cached_and_online_modes_end_the_same():
    data = make_data()
    hp = HyperParams(lr=3e-3, weight_decay=1e-4, batch_size=8)
    settings = TrainSettings(views=3)  # 3 epochs: both modes see views 0, 1, 2
    config = FitConfig(CONFIG, hp, epochs=3, seed=1, settings=settings)
    cached = fit(config, CachedViews(data))
    online = fit(config, OnlineImages(data))
    for a, b in zip(cached.history, online.history, strict=True):
        assert a.train_loss == pytest.approx(b.train_loss, abs=1e-5)
        assert a.val_loss == pytest.approx(b.val_loss, abs=1e-5)
    # The backbone runs on other batch shapes in the two modes, so float sums round
    # differently by CPU kernel (1.2e-5 on an AVX2-only CPU); training moves the
    # weights by about 0.1, so 1e-4 still tells a real difference from rounding.
    for (name, p), (_, q) in zip(cached.model.head.state_dict().items(),
                                 online.model.head.state_dict().items(), strict=True):
        assert torch.allclose(p, q, atol=1e-4), name
    # ...and training did change the head.
    fresh = build_model(CONFIG)
    assert not torch.allclose(fresh.head.fc2.weight, cached.model.head.fc2.weight)


def test_training_records_every_epoch_and_keeps_the_best():
    data = make_data()
    log = EventLog()
    result = fit(FitConfig(CONFIG, HyperParams(lr=3e-3, batch_size=8), epochs=4, seed=0,
                           settings=TrainSettings(views=2, objective="balanced_accuracy")),
                 CachedViews(data), sink=log)
    epochs = log.of_type(EpochEnded)
    assert [e.epoch for e in epochs] == [1, 2, 3, 4]
    assert log.of_type(Progress)  # features phase was reported
    best = min(result.history, key=lambda r: r.val_loss)
    assert result.best_epoch == best.epoch
    assert result.value == best.objective
    proba = predict_proba(result.model, data.val_images, "cpu")
    assert proba.shape == (16, 2) and np.allclose(proba.sum(1), 1, atol=1e-5)
    # The returned model is the best epoch's: its validation loss is the best one.
    loss = torch.nn.functional.nll_loss(torch.log(torch.as_tensor(proba)),
                                        torch.as_tensor(data.val_labels))
    assert float(loss) == pytest.approx(best.val_loss, abs=1e-4)


def test_nan_loss_is_a_clear_failure():
    with pytest.raises(TrainingDiverged, match="diverged"):
        fit(FitConfig(CONFIG, HyperParams(lr=1e30, batch_size=8), epochs=2,
                      settings=TrainSettings(views=1)), CachedViews(make_data()))


def test_too_few_images_of_a_class_said_before_training():
    data = make_data()
    one_hem = TrainingData(data.train_images[:3], np.array([0, 0, 1]), data.val_images,
                           data.val_labels, data.class_names)
    log = EventLog()
    with pytest.raises(DatasetError, match="class 'hem' has 1 image"):
        fit(FitConfig(CONFIG, HyperParams()), CachedViews(one_hem), sink=log)
    assert log.events == []


def test_cancel_stops_between_batches():
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        fit(FitConfig(CONFIG, HyperParams(batch_size=4), epochs=50), OnlineImages(make_data()),
            cancel=cancel)


def test_feature_cache_is_reused_and_resumes(tmp_path):
    data = make_data(n_train=12, n_val=4)
    model = build_model(CONFIG)
    kw = dict(views=3, seed=5, device=torch.device("cpu"), cache_dir=tmp_path)
    first = build_feature_set(model, data.train_images, data.val_images, **kw)
    folder = tmp_path / "features" / first.key
    files = sorted(p.name for p in folder.glob("*.npy"))
    assert files == ["train_view_000.npy", "train_view_001.npy", "train_view_002.npy"]
    assert len(list((tmp_path / "features" / "plain").glob("*.npy"))) == 1  # validation
    kept = folder / "train_view_000.npy"
    stamp = kept.stat().st_mtime_ns
    (folder / "train_view_002.npy").unlink()  # as if interrupted before the last view
    again = build_feature_set(model, data.train_images, data.val_images, **kw)
    assert again.key == first.key
    assert kept.stat().st_mtime_ns == stamp  # finished views are not computed again
    for a, b in zip(first.train_views, again.train_views, strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(first.train_views[0]), np.asarray(first.train_views[1]))
    other = build_feature_set(model, data.train_images, data.val_images,
                              **{**kw, "seed": 6})
    assert other.key != first.key  # another seed: other views, another entry


def test_fine_tuning_needs_the_online_mode():
    from allgui.core.errors import AllguiError

    tuned = ModelConfig(backbone="test_efficientnet", weights="none", hidden=8,
                        finetune_stages=1)
    with pytest.raises(AllguiError, match="online"):
        fit(FitConfig(tuned, HyperParams()), CachedViews(make_data()))
    result = fit(FitConfig(tuned, HyperParams(batch_size=8), epochs=1), OnlineImages(make_data()))
    assert result.history[0].epoch == 1


def test_a_mode_names_its_source():
    from allgui.core.errors import AllguiError
    from allgui.core.train.sources import source_for

    data = make_data()
    assert isinstance(source_for("cached", data), CachedViews)
    assert isinstance(source_for("online", data), OnlineImages)
    with pytest.raises(AllguiError, match="Unknown training mode 'fast'"):
        source_for("fast", data)
