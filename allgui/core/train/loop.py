"""Training one configuration: the paper's loop, in two modes.

- AdamW (betas 0.9/0.999, eps 1e-8) on the trainable parameters;
- class-weighted cross-entropy, weights n_total / (n_classes * n_c) from
  the training split (validation loss unweighted, as Keras' ``class_weight``);
- ReduceLROnPlateau on validation loss (patience 5, factor 0.1);
- early stopping on validation loss (patience 10); the weights kept are
  those of the epoch with the lowest validation loss, and the configuration's
  value is the objective at that epoch;
- bf16 autocast and channels_last on CUDA; the CPU otherwise;
- seeded: the seed fixes head initialisation, dropout and batch order;
  augmentation draws come from ``views_seed`` (see :mod:`allgui.core.train.augment`).

Modes: ``online`` augments, runs the backbone and the head every epoch (the
straightforward pipeline; needed for fine-tuning). ``cached`` trains the head
on a :class:`~allgui.core.train.features.FeatureSet`: epoch e sees view e mod K.

Stop: ``cancel`` (a ``threading.Event``) is checked between batches and
raises :class:`~allgui.core.errors.Cancelled`. A loss that is not finite
raises :class:`TrainingDiverged`.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from allgui.core.errors import AllguiError, Cancelled, DatasetError
from allgui.core.events import EpochEnded, Progress, Sink, null_sink
from allgui.core.model.classifier import AllClassifier, ModelConfig, build_model
from allgui.core.model.untuned import UNTUNED
from allgui.core.search.settings import MODES  # noqa: F401 - one list of modes
from allgui.core.train.augment import model_input, random_affine_matrices, view_generator
from allgui.core.train.features import FeatureSet, backbone_batch, build_feature_set
from allgui.core.train.objective import OBJECTIVES, check_mode, objective_value

MIN_TRAIN_PER_CLASS = 2
MIN_VAL_PER_CLASS = 1


class TrainingDiverged(AllguiError):
    """The loss became NaN or infinite (learning rate too high, or bad data)."""


@dataclass(frozen=True)
class HyperParams:
    """What a trial tunes besides the head's shape (which is in ModelConfig)."""

    lr: float = UNTUNED["lr"]
    weight_decay: float = UNTUNED["weight_decay"]
    batch_size: int = UNTUNED["batch_size"]


@dataclass(frozen=True)
class TrainSettings:
    """How a configuration is trained (the paper's values by default)."""

    objective: str = "accuracy"  # one of allgui.core.train.objective.OBJECTIVES
    lr_patience: int = 5
    lr_factor: float = 0.1
    early_stopping_patience: int = 10
    views: int = 10  # K, cached mode
    extract_batch_size: int = 0  # images per frozen-backbone pass; 0 = by device
    amp: bool = True  # bf16 autocast, CUDA only


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


@dataclass(frozen=True)
class EpochRecord:
    epoch: int  # 1-based
    train_loss: float
    val_loss: float
    train_accuracy: float
    val_accuracy: float
    train_balanced_accuracy: float
    val_balanced_accuracy: float
    objective: float  # the chosen objective on validation
    lr: float
    seconds: float


@dataclass(frozen=True)
class TrainResult:
    """One trained configuration. ``model`` holds the best epoch's weights
    (lowest validation loss), on the CPU, in eval mode."""

    model: AllClassifier
    model_config: ModelConfig
    hparams: HyperParams
    mode: str
    seed: int
    views_seed: int
    objective: str
    device: str
    history: tuple[EpochRecord, ...]
    best_epoch: int  # 1-based
    stopped_early: bool
    duration_s: float
    class_names: tuple[str, ...] = ()
    settings: TrainSettings = field(default_factory=TrainSettings)

    @property
    def best(self) -> EpochRecord:
        return self.history[self.best_epoch - 1]

    @property
    def value(self) -> float:
        """The objective at the kept (best) epoch."""
        return self.best.objective


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/'auto': the GPU when there is one, else the CPU."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise AllguiError("A GPU was asked for, but none is available; use the CPU ('cpu').")
    return dev


def class_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """n_total / (n_classes * n_c), from the training labels."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes)
    return len(labels) / (n_classes * np.maximum(counts, 1)).astype(np.float64)


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
                problems.append(f"class '{name}' has {c} image(s) in the {part} part "
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


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


def _batch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled order of epoch ``epoch``: the same in both modes."""
    g = torch.Generator(device="cpu")
    g.manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=g).numpy()


def _reset_head(model: AllClassifier, seed: int) -> None:
    torch.manual_seed(seed)
    for m in model.head.modules():
        if isinstance(m, nn.Linear):
            m.reset_parameters()


def train_configuration(
    data: TrainingData,
    model_config: ModelConfig,
    hparams: HyperParams,
    *,
    mode: str = "cached",
    epochs: int = 40,
    seed: int = 0,
    views_seed: int | None = None,
    sink: Sink = null_sink,
    cancel: threading.Event | None = None,
    device: str | torch.device | None = None,
    settings: TrainSettings = TrainSettings(),  # noqa: B008 - frozen
    cache_dir: str | Path | None = None,
    base_model: AllClassifier | None = None,
    features: FeatureSet | None = None,
    job: str = "train",
    trial: int | None = None,
    run: int | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TrainResult:
    """Train one configuration for up to ``epochs`` epochs with early stopping.

    ``base_model`` (a built model with the same backbone) avoids building
    and loading weights again; ``features`` (cached mode) avoids computing
    them again; ``cache_dir`` keeps computed features on disk. ``on_epoch``
    runs after each epoch (a search reports to Optuna there and may raise
    ``optuna.TrialPruned``). Events: ``Progress`` (phase 'features') while
    features are computed, then one ``EpochEnded`` per epoch.
    """
    if mode not in MODES:
        raise AllguiError(f"Unknown training mode '{mode}'; choose 'cached' or 'online'.")
    if settings.objective not in OBJECTIVES:
        raise AllguiError(
            f"Unknown objective '{settings.objective}'; choose one of {', '.join(OBJECTIVES)}."
        )
    check_mode(mode, model_config.finetune_stages)
    if model_config.n_classes != len(data.class_names):
        raise AllguiError(
            f"The model has {model_config.n_classes} outputs but the data has "
            f"{len(data.class_names)} classes."
        )
    if hparams.batch_size < 1 or hparams.lr <= 0 or hparams.weight_decay < 0:
        raise AllguiError("Batch size and learning rate must be positive, weight decay not negative.")
    check_class_counts(data)
    dev = resolve_device(device)
    views_seed = seed if views_seed is None else views_seed
    started = time.perf_counter()

    seed_everything(seed)
    if base_model is not None and not model_config.finetune_stages:
        model = base_model.with_head(model_config)
    elif base_model is not None:
        raise AllguiError("Fine-tuning builds its own model; do not pass a shared one.")
    else:
        model = build_model(model_config)
    model.to(dev)
    if dev.type == "cuda":
        model.backbone.to(memory_format=torch.channels_last)

    if mode == "cached" and features is None:
        def progress(done: int, total: int) -> None:
            sink(Progress(job=job, phase="features", done=done, total=total,
                          message="Computing backbone features once for all epochs"))

        features = build_feature_set(
            model, data.train_images, data.val_images, views=settings.views, seed=views_seed,
            device=dev, cache_dir=cache_dir, data_key=data.key,
            batch_size=settings.extract_batch_size, amp=settings.amp, cancel=cancel,
            progress=progress,
        )

    _reset_head(model, seed)
    torch.manual_seed(seed)  # dropout draws start from the seed in both modes
    loop = _Loop(model, data, hparams, settings, dev, seed, views_seed, cancel, mode, features)
    history: list[EpochRecord] = []
    best_loss, best_epoch, best_state = math.inf, 0, None
    stopped_early = False
    for epoch in range(epochs):
        t0 = time.perf_counter()
        train = loop.train_epoch(epoch)
        val = loop.validate()
        lr = loop.optimizer.param_groups[0]["lr"]
        loop.scheduler.step(val.loss)
        record = EpochRecord(
            epoch=epoch + 1,
            train_loss=train.loss,
            val_loss=val.loss,
            train_accuracy=train.accuracy,
            val_accuracy=val.accuracy,
            train_balanced_accuracy=train.balanced_accuracy,
            val_balanced_accuracy=val.balanced_accuracy,
            objective=objective_value(settings.objective, data.val_labels, val.proba,
                                      len(data.class_names)),
            lr=lr,
            seconds=time.perf_counter() - t0,
        )
        history.append(record)
        if val.loss < best_loss:
            best_loss, best_epoch = val.loss, epoch + 1
            best_state = loop.trainable_state()
        sink(EpochEnded(
            job=job, trial=trial, run=run, epoch=epoch + 1, epochs=epochs,
            train_loss=record.train_loss, val_loss=record.val_loss,
            train_accuracy=record.train_accuracy, val_accuracy=record.val_accuracy,
            train_balanced_accuracy=record.train_balanced_accuracy,
            val_balanced_accuracy=record.val_balanced_accuracy,
            objective=record.objective, lr=lr,
        ))
        if on_epoch is not None:
            on_epoch(record)
        if epoch + 1 - best_epoch >= settings.early_stopping_patience:
            stopped_early = epoch + 1 < epochs
            break

    if best_state is not None:
        model.load_state_dict(best_state, strict=False)
    model.to("cpu").eval()
    if dev.type == "cuda":
        model.backbone.to(memory_format=torch.contiguous_format)
    return TrainResult(
        model=model, model_config=model_config, hparams=hparams, mode=mode, seed=seed,
        views_seed=views_seed, objective=settings.objective, device=str(dev),
        history=tuple(history), best_epoch=best_epoch, stopped_early=stopped_early,
        duration_s=time.perf_counter() - started, class_names=tuple(data.class_names),
        settings=settings,
    )


@dataclass(frozen=True)
class _PassResult:
    loss: float
    accuracy: float
    balanced_accuracy: float
    proba: np.ndarray | None = None


def _accuracies(labels: np.ndarray, preds: np.ndarray, n_classes: int) -> tuple[float, float]:
    labels = np.asarray(labels)
    acc = float((preds == labels).mean()) if len(labels) else float("nan")
    recalls = [float((preds[labels == c] == c).mean()) for c in range(n_classes)
               if (labels == c).any()]
    return acc, (float(np.mean(recalls)) if recalls else float("nan"))


class _Loop:
    """The per-epoch work of one configuration (state shared across epochs)."""

    def __init__(self, model, data, hparams, settings, device, seed, views_seed, cancel, mode,
                 features):
        self.model, self.data, self.hp, self.settings = model, data, hparams, settings
        self.device, self.seed, self.views_seed = device, seed, views_seed
        self.cancel, self.mode, self.features = cancel, mode, features
        self.n_classes = len(data.class_names)
        self.cuda = device.type == "cuda"
        weights = torch.tensor(class_weights(data.train_labels, self.n_classes),
                               dtype=torch.float32, device=device)
        self.train_loss = nn.CrossEntropyLoss(weight=weights)
        self.val_loss = nn.CrossEntropyLoss(reduction="sum")
        params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            params, lr=hparams.lr, betas=(0.9, 0.999), eps=1e-8,
            weight_decay=hparams.weight_decay, **({"fused": True} if self.cuda else {}),
        )
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, mode="min", factor=settings.lr_factor, patience=settings.lr_patience
        )
        self.train_labels = np.asarray(data.train_labels, dtype=np.int64)
        self.val_labels = torch.as_tensor(np.asarray(data.val_labels, dtype=np.int64),
                                          device=device)
        if features is not None:
            self.train_views, self.val_features = features.tensors(device)

    def _check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled()

    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.cuda and self.settings.amp)

    def trainable_state(self) -> dict[str, torch.Tensor]:
        if self.model.frozen:
            return {f"head.{k}": v.detach().clone() for k, v in self.model.head.state_dict().items()}
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def _images_in(self, images: np.ndarray, idx: np.ndarray, matrices) -> torch.Tensor:
        x = model_input(images[idx], self.model.mean, self.model.std, self.device, matrices)
        return x.contiguous(memory_format=torch.channels_last) if self.cuda else x

    def _logits_online(self, x: torch.Tensor) -> torch.Tensor:
        if self.model.frozen:
            # A frozen backbone (eval mode) gives the same features in any
            # grouping: run it in the chunks that suit the device best. The head
            # runs in fp32, as in the cached mode.
            chunk = backbone_batch(self.device, self.settings.extract_batch_size)
            parts = []
            with torch.no_grad(), self._autocast():
                for part in x.split(chunk):
                    self._check_cancel()  # a big batch on a CPU takes seconds
                    parts.append(self.model.pool(self.model.forward_features(part)))
            return self.model.forward_head(torch.cat(parts).float())
        with self._autocast():
            return self.model(x)

    def train_epoch(self, epoch: int) -> _PassResult:
        model, n, bs = self.model, len(self.data.train_labels), self.hp.batch_size
        model.train()
        order = _batch_order(n, self.seed, epoch)
        labels = self.train_labels[order]
        y_all = torch.from_numpy(labels).to(self.device)
        if self.mode == "cached":
            # Gathered once per epoch on the device, so each step takes a slice:
            # few kernels per step on a GPU.
            view = self.train_views[epoch % len(self.train_views)]
            feats = view[torch.from_numpy(order).to(self.device)]
        else:
            matrices = random_affine_matrices(n, view_generator(self.views_seed, epoch))
        losses, sizes, preds = [], [], []
        for start in range(0, n, bs):
            self._check_cancel()
            y = y_all[start:start + bs]
            if self.mode == "cached":
                logits = model.forward_head(feats[start:start + bs])  # fp32: a small head
            else:
                idx = order[start:start + bs]
                x = self._images_in(self.data.train_images, idx, matrices[idx])
                logits = self._logits_online(x)
            loss = self.train_loss(logits.float(), y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            losses.append(loss.detach())
            sizes.append(len(y))
            preds.append(logits.detach().argmax(1))
        weights = torch.tensor(sizes, dtype=torch.float32, device=self.device)
        mean_loss = float((torch.stack(losses) * weights).sum()) / n
        if not math.isfinite(mean_loss):
            raise TrainingDiverged(
                f"The training loss became {mean_loss} in epoch {epoch + 1}: training diverged "
                f"(learning rate {self.hp.lr:.3g} may be too high).",
            )
        acc, bal = _accuracies(labels, torch.cat(preds).cpu().numpy(), self.n_classes)
        return _PassResult(mean_loss, acc, bal)

    def validate(self) -> _PassResult:
        model, n = self.model, len(self.data.val_labels)
        model.eval()
        logits_all = []
        with torch.no_grad():
            if self.mode == "cached":
                logits_all.append(model.forward_head(self.val_features).float())
            else:
                bs = backbone_batch(self.device, self.settings.extract_batch_size)
                for start in range(0, n, bs):
                    self._check_cancel()
                    idx = np.arange(start, min(start + bs, n))
                    x = self._images_in(self.data.val_images, idx, None)
                    with self._autocast():
                        out = model.pool(model.forward_features(x))
                    logits_all.append(model.forward_head(out.float()).float())  # fp32 head
        logits = torch.cat(logits_all)
        loss = float(self.val_loss(logits, self.val_labels)) / n
        if not math.isfinite(loss):
            raise TrainingDiverged(f"The validation loss became {loss}: training diverged.")
        proba = torch.softmax(logits, 1).cpu().numpy().astype(np.float64)
        acc, bal = _accuracies(self.data.val_labels, proba.argmax(1), self.n_classes)
        return _PassResult(loss, acc, bal, proba)


def predict_proba(
    model: AllClassifier,
    images: np.ndarray,
    device: str | torch.device | None = None,
    batch_size: int = 64,
    cancel: threading.Event | None = None,
) -> np.ndarray:
    """Class probabilities (N, n_classes) for uint8 (N, H, W, 3) images."""
    dev = resolve_device(device)
    model = model.to(dev).eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            x = model_input(images[start:start + batch_size], model.mean, model.std, dev)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dev.type == "cuda"):
                out.append(torch.softmax(model(x).float(), 1).cpu().numpy())
    if not out:
        return np.zeros((0, model.config.n_classes), dtype=np.float32)
    return np.concatenate(out)

