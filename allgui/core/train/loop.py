"""Training one configuration: the paper's loop, in two modes.

- AdamW (betas 0.9/0.999, eps 1e-8) on the trainable parameters;
- class-weighted cross-entropy, weights n_total / (n_classes * n_c) from
  the training split; the validation loss unweighted (as Keras'
  ``class_weight``) or weighted the same way (``TrainSettings.val_loss``);
- ReduceLROnPlateau on validation loss (patience 5, factor 0.1);
- early stopping on validation loss (patience 10); the weights kept are
  those of the epoch with the lowest validation loss, and the configuration's
  value is the objective at that epoch (or as ``TrainSettings.trial_value`` says);
- bf16 (or fp16, with loss scaling when the backbone trains) autocast and
  channels_last on CUDA; fp32 on the CPU;
- seeded: the seed fixes head initialisation, dropout and batch order;
  augmentation draws come from ``views_seed`` (see :mod:`allgui.core.train.augment`).

What the head trains on is a source (:mod:`allgui.core.train.sources`):
``CachedViews`` (frozen-backbone features, view e mod K in epoch e) or
``OnlineImages`` (augmentation and backbone every epoch). As in timm's
``train.py``, the caller builds everything (a :class:`FitConfig`, a source, a
device) and :func:`fit` only runs the epochs.

Stop: ``cancel`` (a ``threading.Event``) is checked between batches and
raises :class:`~allgui.core.errors.Cancelled`. A loss that is not finite
raises :class:`TrainingDiverged`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from allgui.core.errors import AllguiError
from allgui.core.events import EpochEnded, Sink, null_sink
from allgui.core.model.classifier import AllClassifier, ModelConfig, build_model
from allgui.core.model.measures import OBJECTIVES, name_of
from allgui.core.train.device import head_threads, resolve_device
from allgui.core.train.epochs import (  # noqa: F401 - TrainingDiverged: imported from here too
    FitState,
    TrainingDiverged,
    reset_head,
)
from allgui.core.train.hparams import HyperParams  # noqa: F401 - imported from here too
from allgui.core.train.objective import objective_value
from allgui.core.train.recipe import (  # noqa: F401 - imported from here too
    TrainSettings,
    class_weight_record,
    class_weights,
    recipe,
)
from allgui.core.train.sources import (  # noqa: F401 - imported from here too
    Source,
    TrainingData,
    check_class_counts,
    training_data_from_prepared,
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
        """The configuration's value: the objective at the kept (best) epoch,
        unless ``settings.trial_value`` names another rule."""
        rule = self.settings.trial_value
        if rule == "last_epoch":
            return self.history[-1].objective
        if rule == "best_epoch_objective":
            values = [h.objective for h in self.history if math.isfinite(h.objective)]
            return max(values) if values else math.nan
        return self.best.objective


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


def build_seeded(config: ModelConfig, seed: int) -> AllClassifier:
    """``config``'s model built after seeding with ``seed``: a randomly
    initialised backbone is then the seed's, so a search (seeded with its own
    seed) and the validation of its trials build the same backbone."""
    seed_everything(seed)
    return build_model(config)


@dataclass(frozen=True)
class FitConfig:
    """What one fit trains, and how its events are labelled."""

    model_config: ModelConfig
    hparams: HyperParams = field(default_factory=HyperParams)
    epochs: int = 40
    seed: int = 0  # head initialisation, dropout and batch order
    views_seed: int | None = None  # augmentation draws; None = ``seed``
    settings: TrainSettings = field(default_factory=TrainSettings)
    job: str = "train"  # the job named in its events
    trial: int | None = None  # a search's trial, in EpochEnded
    run: int | None = None  # a validation run, in EpochEnded

    @property
    def resolved_views_seed(self) -> int:
        return self.seed if self.views_seed is None else self.views_seed


def _check(config: FitConfig, source: Source) -> None:
    """Say what cannot work before anything is built or emitted."""
    settings, hp, model_config = config.settings, config.hparams, config.model_config
    if name_of(settings.objective) not in OBJECTIVES:
        raise AllguiError(
            f"Unknown objective '{settings.objective}'; choose one of {', '.join(OBJECTIVES)}."
        )
    source.check(model_config)
    if model_config.n_classes != len(source.data.class_names):
        raise AllguiError(
            f"The model has {model_config.n_classes} outputs but the data has "
            f"{len(source.data.class_names)} classes."
        )
    if hp.batch_size < 1 or hp.lr <= 0 or hp.weight_decay < 0:
        raise AllguiError("Batch size and learning rate must be positive, weight decay not negative.")
    check_class_counts(source.data)


def _model_for(config: FitConfig, base_model: AllClassifier | None,
               device: torch.device) -> AllClassifier:
    seed_everything(config.seed)  # a random-init backbone is the seed's
    if base_model is not None and not config.model_config.finetune_stages:
        model = base_model.with_head(config.model_config)
    elif base_model is not None:
        raise AllguiError("Fine-tuning builds its own model; do not pass a shared one.")
    else:
        model = build_model(config.model_config)
    model.to(device)
    if device.type == "cuda":
        model.backbone.to(memory_format=torch.channels_last)
    return model


def fit(
    config: FitConfig,
    source: Source,
    *,
    device: str | torch.device | None = None,
    base_model: AllClassifier | None = None,
    sink: Sink = null_sink,
    cancel: threading.Event | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TrainResult:
    """Train ``config`` on ``source`` for up to ``config.epochs`` epochs with
    early stopping; see the module docstring.

    ``base_model`` (a built model with the same frozen backbone) avoids
    building and loading weights again. ``on_epoch`` runs after each epoch (a
    search reports to Optuna there and may raise ``optuna.TrialPruned``).
    Events: ``Progress`` (phase 'features') while a source computes features,
    then one ``EpochEnded`` per epoch.
    """
    _check(config, source)
    dev = resolve_device(device)
    started = time.perf_counter()
    model = _model_for(config, base_model, dev)
    feed = source.bind(model, dev, config, sink, cancel)
    reset_head(model, config.seed)
    torch.manual_seed(config.seed)  # dropout draws start from the seed in both modes
    epochs, data, objective = config.epochs, source.data, config.settings.objective
    state = FitState(model, feed, data, config, dev, cancel)
    history: list[EpochRecord] = []
    best_loss, best_epoch, best_state = math.inf, 0, None
    stopped_early = False
    # Only the head trains when the features are cached: one thread does it fastest.
    with head_threads(dev, source.mode == "cached" and model.frozen):
        for epoch in range(epochs):
            t0 = time.perf_counter()
            train = state.train_epoch(epoch)
            val = state.validate()
            lr = state.optimizer.param_groups[0]["lr"]
            state.scheduler.step(val.loss)
            record = EpochRecord(
                epoch=epoch + 1, train_loss=train.loss, val_loss=val.loss,
                train_accuracy=train.accuracy, val_accuracy=val.accuracy,
                train_balanced_accuracy=train.balanced_accuracy,
                val_balanced_accuracy=val.balanced_accuracy,
                objective=objective_value(objective, data.val_labels, val.proba,
                                          len(data.class_names)),
                lr=lr, seconds=time.perf_counter() - t0,
            )
            history.append(record)
            if val.loss < best_loss:
                best_loss, best_epoch = val.loss, epoch + 1
                best_state = state.trainable_state()
            sink(EpochEnded(
                job=config.job, trial=config.trial, run=config.run, epoch=epoch + 1, epochs=epochs,
                train_loss=record.train_loss, val_loss=record.val_loss,
                train_accuracy=record.train_accuracy, val_accuracy=record.val_accuracy,
                train_balanced_accuracy=record.train_balanced_accuracy,
                val_balanced_accuracy=record.val_balanced_accuracy,
                objective=record.objective, lr=lr,
            ))
            if on_epoch is not None:
                on_epoch(record)
            if epoch + 1 - best_epoch >= config.settings.early_stopping_patience:
                stopped_early = epoch + 1 < epochs
                break

    if best_state is not None:
        model.load_state_dict(best_state, strict=False)
    model.to("cpu").eval()
    if dev.type == "cuda":
        model.backbone.to(memory_format=torch.contiguous_format)
    return TrainResult(
        model=model, model_config=config.model_config, hparams=config.hparams,
        mode=source.mode, seed=config.seed, views_seed=config.resolved_views_seed,
        objective=objective, device=str(dev), history=tuple(history), best_epoch=best_epoch,
        stopped_early=stopped_early, duration_s=time.perf_counter() - started,
        class_names=tuple(data.class_names), settings=config.settings,
    )
