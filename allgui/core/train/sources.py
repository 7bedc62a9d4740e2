"""What one fit trains on: the data, and how each epoch's inputs reach the head.

- :class:`CachedViews`: the backbone is frozen, so its features are computed
  once per augmented view (``K`` views, see :mod:`allgui.core.train.features`)
  and each epoch trains the head on one of them: epoch e sees view e mod K.
- :class:`OnlineImages`: every epoch augments the images and runs the
  backbone and the head (the straightforward pipeline; needed for fine-tuning).

Both draw epoch e's augmentation from ``view_generator(views_seed, e)`` and
take batches in the same shuffled order, so with K >= epochs the two modes
train the same head. A source is bound to one fit's model and device
(``bind``); the bound feed gives the loop, per epoch, a function from a slice
of the shuffled order to logits, and the validation logits.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np
import torch

from allgui.core.errors import AllguiError, Cancelled, DatasetError
from allgui.core.events import Notice, Progress, Sink, seconds_words
from allgui.core.files.text import count
from allgui.core.model.classifier import AllClassifier, ModelConfig
from allgui.core.train.augment import model_input, random_affine_matrices, view_generator
from allgui.core.train.device import autocast, backbone_batch
from allgui.core.train.features import PREPARING, FeatureSet, build_feature_set
from allgui.core.train.objective import MODES, check_mode
from allgui.core.train.views import unused_views_note, views_read

if TYPE_CHECKING:
    from allgui.core.train.loop import FitConfig

MIN_TRAIN_PER_CLASS = 2
MIN_VAL_PER_CLASS = 1

Logits = Callable[[slice], torch.Tensor]


@dataclass(frozen=True)
class TrainingData:
    """Images and labels of the training and validation parts.

    Images are uint8 (N, H, W, 3), already resized; labels are class indices
    into ``class_names``. ``key`` optionally names the data for the feature
    cache (otherwise the arrays are hashed)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    class_names: tuple[str, ...]
    key: str = ""

    @property
    def image_size(self) -> int:
        return int(self.train_images.shape[1])


def training_data_from_prepared(prepared) -> TrainingData:
    """The train and validation parts of a
    :class:`~allgui.core.dataset.prepared.PreparedData`; ``key`` names the
    dataset, split and image size (a study checks it on resume)."""
    h = hashlib.sha256()
    h.update(prepared.index.fingerprint().encode())
    h.update(repr((prepared.image_size, prepared.train.indices, prepared.val.indices)).encode())
    return TrainingData(
        train_images=prepared.train.images,
        train_labels=np.asarray(prepared.train.labels, dtype=np.int64),
        val_images=prepared.val.images,
        val_labels=np.asarray(prepared.val.labels, dtype=np.int64),
        class_names=tuple(prepared.classes),
        key=h.hexdigest()[:16],
    )


def check_class_counts(data: TrainingData) -> None:
    """Enough images of every class in each part, said before any training."""
    n = len(data.class_names)
    problems = []
    for part, labels, least in (
        ("training", data.train_labels, MIN_TRAIN_PER_CLASS),
        ("validation", data.val_labels, MIN_VAL_PER_CLASS),
    ):
        counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n)
        for name, c in zip(data.class_names, counts, strict=False):
            if c < least:
                problems.append(f"class '{name}' has {count(c, 'image')} in the {part} part "
                                f"(at least {least} needed)")
    if len(data.train_images) != len(data.train_labels) or len(data.val_images) != len(
        data.val_labels
    ):
        raise DatasetError("The prepared data is inconsistent: images and labels differ in number.")
    if problems:
        raise DatasetError(
            "Too few images to train: " + "; ".join(problems)
            + ". Add images of that class, or change the split.",
        )


def stop_if_cancelled(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


class Feed(Protocol):
    """A source bound to one fit's model and device."""

    def train_pass(self, epoch: int, order: np.ndarray) -> Logits: ...

    def val_logits(self) -> torch.Tensor: ...


class Source(Protocol):
    @property
    def mode(self) -> str: ...

    @property
    def data(self) -> TrainingData: ...

    def check(self, model_config: ModelConfig) -> None: ...

    def bind(self, model: AllClassifier, device: torch.device, fit: FitConfig, sink: Sink,
             cancel: threading.Event | None) -> Feed: ...


@dataclass(frozen=True, eq=False)
class CachedViews:
    """Train the head on precomputed frozen-backbone features.

    ``features`` may be shared by many fits (a search's trials); when
    ``None`` they are computed on binding (and kept under ``cache_dir``)."""

    data: TrainingData
    features: FeatureSet | None = None
    cache_dir: str | Path | None = None
    mode: ClassVar[str] = "cached"

    def check(self, model_config: ModelConfig) -> None:
        check_mode("cached", model_config.finetune_stages)

    def bind(self, model, device, fit, sink, cancel) -> Feed:
        features = self.features
        if features is None:
            def progress(done: int, total: int) -> None:
                sink(Progress(job=fit.job, phase="features", done=done, total=total,
                              message="Computing backbone features once for all epochs"))

            settings = fit.settings
            note = unused_views_note(settings.views, fit.epochs)
            if note:
                sink(Notice(fit.job, level="info", text=note))
            features = cached_feature_set(
                model, self.data, device, settings, views=views_read(settings.views, fit.epochs),
                seed=fit.resolved_views_seed, cache_dir=self.cache_dir, cancel=cancel,
                progress=progress, preparing=lambda seconds: sink(Progress(
                    job=fit.job, phase="features", message=seconds_words(PREPARING, seconds))))
            announce_features(sink, fit.job, features)
        return _CachedFeed(model, device, features)


def cached_feature_set(model: AllClassifier, data: TrainingData, device: torch.device,
                       settings, *, views: int, seed: int, cache_dir: str | Path | None,
                       cancel: threading.Event | None = None,
                       progress: Callable[[int, int], None] | None = None,
                       preparing: Callable[[int], None] | None = None) -> FeatureSet:
    """The features a cached fit of ``settings`` (a TrainSettings) reads: its
    ``views`` training views drawn from ``seed`` and the plain validation
    features. Whoever asks (a fit, the linear probe) gets the same cache entry.
    ``preparing`` hears the seconds while the backbone's runner is made."""
    return build_feature_set(
        model, data.train_images, data.val_images, views=views, seed=seed, device=device,
        cache_dir=cache_dir, data_key=data.key, batch_size=settings.extract_batch_size,
        amp=settings.amp, cancel=cancel, progress=progress, features=settings.features,
        augmentation=settings.augmentation, precision=settings.feature_precision,
        train_labels=data.train_labels, preparing=preparing,
    )


def announce_features(sink: Sink, job: str, features: FeatureSet) -> None:
    """Say which path computed the features ('features: onnxruntime (CPU, 2
    threads)'), and why it is not the faster one when it is not."""
    if features.notice:
        sink(Notice(job, level="warning", text=features.notice))
    if features.path:
        sink(Notice(job, level="info", text=f"features: {features.path}"))


class _CachedFeed:
    def __init__(self, model: AllClassifier, device: torch.device, features: FeatureSet):
        self.model, self.device = model, device
        self.train_views, self.val_features = features.tensors(device)

    def train_pass(self, epoch: int, order: np.ndarray) -> Logits:
        # Gathered once per epoch on the device, so each step takes a slice:
        # few kernels per step on a GPU.
        view = self.train_views[epoch % len(self.train_views)]
        feats = view[torch.from_numpy(order).to(self.device)]
        return lambda part: self.model.forward_head(feats[part])  # fp32: a small head

    def val_logits(self) -> torch.Tensor:
        return self.model.forward_head(self.val_features).float()


@dataclass(frozen=True, eq=False)
class OnlineImages:
    """Augment the images and run the backbone every epoch."""

    data: TrainingData
    mode: ClassVar[str] = "online"

    def check(self, model_config: ModelConfig) -> None:
        """Any model trains online, fine-tuned or not."""

    def bind(self, model, device, fit, sink, cancel) -> Feed:
        return _OnlineFeed(model, device, self.data, fit, cancel)


class _OnlineFeed:
    def __init__(self, model: AllClassifier, device: torch.device, data: TrainingData,
                 fit: FitConfig, cancel: threading.Event | None):
        self.model, self.device, self.data, self.cancel = model, device, data, cancel
        self.views_seed, self.settings = fit.resolved_views_seed, fit.settings
        self.cuda = device.type == "cuda"

    def _autocast(self) -> torch.autocast:
        return autocast(self.device, self.settings.amp)

    def _images_in(self, images: np.ndarray, idx: np.ndarray, matrices) -> torch.Tensor:
        x = model_input(images[idx], self.model.mean, self.model.std, self.device, matrices)
        return x.contiguous(memory_format=torch.channels_last) if self.cuda else x

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        model = self.model
        if model.frozen:
            # A frozen backbone (eval mode) gives the same features in any
            # grouping: run it in the chunks that suit the device best. The head
            # runs in fp32, as in the cached mode.
            chunk = backbone_batch(self.device, self.settings.extract_batch_size)
            parts = []
            with torch.no_grad(), self._autocast():
                for part in x.split(chunk):
                    stop_if_cancelled(self.cancel)  # a big batch on a CPU takes seconds
                    parts.append(model.pool(model.forward_features(part)))
            return model.forward_head(torch.cat(parts).float())
        with self._autocast():
            return model(x)

    def train_pass(self, epoch: int, order: np.ndarray) -> Logits:
        matrices = random_affine_matrices(len(order), view_generator(self.views_seed, epoch),
                                          self.settings.augmentation)

        def logits(part: slice) -> torch.Tensor:
            idx = order[part]
            return self._logits(self._images_in(self.data.train_images, idx, matrices[idx]))

        return logits

    def val_logits(self) -> torch.Tensor:
        model, n = self.model, len(self.data.val_labels)
        bs = backbone_batch(self.device, self.settings.extract_batch_size)
        out = []
        for start in range(0, n, bs):
            stop_if_cancelled(self.cancel)
            x = self._images_in(self.data.val_images, np.arange(start, min(start + bs, n)), None)
            with self._autocast():
                pooled = model.pool(model.forward_features(x))
            out.append(model.forward_head(pooled.float()).float())  # fp32 head
        return torch.cat(out)


def source_for(mode: str, data: TrainingData, *, features: FeatureSet | None = None,
               cache_dir: str | Path | None = None) -> CachedViews | OnlineImages:
    """The source a mode names ('cached' or 'online'), as settings spell it."""
    if mode not in MODES:
        raise AllguiError(f"Unknown training mode '{mode}'; choose 'cached' or 'online'.")
    if mode == "cached":
        return CachedViews(data, features=features, cache_dir=cache_dir)
    return OnlineImages(data)
