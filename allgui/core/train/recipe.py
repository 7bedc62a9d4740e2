"""How one configuration is trained, as settings and as a record: the
training settings (:class:`TrainSettings`), the class weights, and
:func:`recipe`, what the study, batch.json, the model card and the report's
methods section say about it. The loop (:mod:`allgui.core.train.loop`) runs it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from allgui.core.errors import AllguiError
from allgui.core.train.augment import AugmentSettings
from allgui.core.train.device import PRECISIONS, precision_used

VAL_LOSSES = ("unweighted", "weighted")
# A configuration's value: the objective at the epoch whose weights are kept
# (lowest validation loss), at the last epoch run, or the best of any epoch.
TRIAL_VALUES = ("kept_epoch", "last_epoch", "best_epoch_objective")


@dataclass(frozen=True)
class TrainSettings:
    """How a configuration is trained (allgui's recommended values by default)."""

    objective: str = "accuracy"  # one of allgui.core.train.objective.OBJECTIVES
    lr_patience: int = 5
    lr_factor: float = 0.1
    early_stopping_patience: int = 10
    views: int = 10  # K, cached mode
    extract_batch_size: int = 0  # images per frozen-backbone pass; 0 = by device
    precision: str = "bf16"  # autocast on CUDA: 'bf16', 'fp16' or 'fp32'; a CPU is fp32
    features: str = "auto"  # cached features: 'auto', 'onnxruntime', 'openvino' or 'torch'
    feature_precision: str = "fp32"  # a CPU engine's: 'fp32', 'bf16' or 'int8' (checked first)
    augmentation: AugmentSettings = field(default_factory=AugmentSettings)
    val_loss: str = "unweighted"  # or 'weighted': the training loss's class weights
    trial_value: str = "kept_epoch"  # see TRIAL_VALUES

    def __post_init__(self) -> None:
        for what, value, choices in (("precision", self.precision, PRECISIONS),
                                     ("validation loss", self.val_loss, VAL_LOSSES),
                                     ("trial value rule", self.trial_value, TRIAL_VALUES)):
            if value not in choices:
                raise AllguiError(f"Unknown {what} '{value}'; choose one of "
                                  f"{', '.join(choices)}.")

    @property
    def amp(self) -> str:
        """The precision, as the feature paths take it."""
        return self.precision


def class_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """n_total / (n_classes * n_c), from the training labels."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes)
    return len(labels) / (n_classes * np.maximum(counts, 1)).astype(np.float64)


ADAMW_BETAS, ADAMW_EPS = (0.9, 0.999), 1e-8


def recipe(settings: TrainSettings, device: torch.device | str | None = None) -> dict[str, Any]:
    """How :func:`fit` trains under ``settings``, as a record for the study,
    batch.json and the model card: what the report's methods section says."""
    record: dict[str, Any] = {
        "optimizer": "AdamW", "betas": list(ADAMW_BETAS), "eps": ADAMW_EPS,
        "scheduler": "ReduceLROnPlateau on validation loss",
        "lr_patience": settings.lr_patience, "lr_factor": settings.lr_factor,
        "early_stopping_patience": settings.early_stopping_patience,
        "loss": "class-weighted cross-entropy", "val_loss": settings.val_loss,
        "trial_value": settings.trial_value, "precision": settings.precision,
        "augmentation": dataclasses.asdict(settings.augmentation),
    }
    if device is not None:
        dev = device if isinstance(device, torch.device) else torch.device(str(device))
        record["precision_used"] = precision_used(dev, settings.precision)
    return record


def class_weight_record(labels: np.ndarray, class_names: tuple[str, ...]) -> dict[str, float]:
    """The training loss's class weights by class name (see :func:`class_weights`)."""
    weights = class_weights(labels, len(class_names))
    return {name: round(float(w), 6) for name, w in zip(class_names, weights, strict=True)}
