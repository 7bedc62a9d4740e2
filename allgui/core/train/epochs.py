"""One fit's epochs: what it keeps across them (the optimiser, the scheduler,
the losses, the class weights) and one pass over training or validation.
:func:`allgui.core.train.loop.fit` drives them; see its module for the recipe.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from allgui.core.errors import AllguiError
from allgui.core.model.classifier import AllClassifier
from allgui.core.train.recipe import ADAMW_BETAS, ADAMW_EPS, class_weights
from allgui.core.train.sources import Feed, TrainingData, stop_if_cancelled

if TYPE_CHECKING:
    from allgui.core.train.loop import FitConfig


class TrainingDiverged(AllguiError):
    """The loss became NaN or infinite (learning rate too high, or bad data)."""


def batch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled order of epoch ``epoch``: the same in both modes."""
    g = torch.Generator(device="cpu")
    g.manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=g).numpy()


def reset_head(model: AllClassifier, seed: int) -> None:
    torch.manual_seed(seed)
    for m in model.head.modules():
        if isinstance(m, nn.Linear):
            m.reset_parameters()


@dataclass(frozen=True)
class PassResult:
    loss: float
    accuracy: float
    balanced_accuracy: float
    proba: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # validation only


def accuracies(labels: np.ndarray, preds: np.ndarray, n_classes: int) -> tuple[float, float]:
    labels = np.asarray(labels)
    acc = float((preds == labels).mean()) if len(labels) else float("nan")
    recalls = [float((preds[labels == c] == c).mean()) for c in range(n_classes)
               if (labels == c).any()]
    return acc, (float(np.mean(recalls)) if recalls else float("nan"))


class FitState:
    """What one fit keeps across epochs: the optimiser, the scheduler, the losses."""

    def __init__(self, model: AllClassifier, feed: Feed, data: TrainingData, config: FitConfig,
                 device: torch.device, cancel: threading.Event | None):
        self.model, self.feed, self.data, self.hp = model, feed, data, config.hparams
        self.device, self.seed, self.cancel = device, config.seed, cancel
        self.n_classes = len(data.class_names)
        cuda = device.type == "cuda"
        weights = torch.tensor(class_weights(data.train_labels, self.n_classes),
                               dtype=torch.float32, device=device)
        self.train_loss = nn.CrossEntropyLoss(weight=weights)
        # Summed, then divided by the images: with weights, Keras' weighted mean.
        weighted = config.settings.val_loss == "weighted"
        self.val_loss = nn.CrossEntropyLoss(weight=weights if weighted else None,
                                            reduction="sum")
        # fp16 gradients of a backbone that trains need loss scaling; a head alone trains in fp32.
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=cuda and not model.frozen and config.settings.precision == "fp16")
        params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            params, lr=self.hp.lr, betas=ADAMW_BETAS, eps=ADAMW_EPS,
            weight_decay=self.hp.weight_decay, **({"fused": True} if cuda else {}),
        )
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, mode="min", factor=config.settings.lr_factor,
            patience=config.settings.lr_patience,
        )
        self.train_labels = np.asarray(data.train_labels, dtype=np.int64)
        self.val_labels = torch.as_tensor(np.asarray(data.val_labels, dtype=np.int64),
                                          device=device)

    def trainable_state(self) -> dict[str, torch.Tensor]:
        if self.model.frozen:
            return {f"head.{k}": v.detach().clone() for k, v in self.model.head.state_dict().items()}
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def train_epoch(self, epoch: int) -> PassResult:
        n, bs = len(self.data.train_labels), self.hp.batch_size
        self.model.train()
        order = batch_order(n, self.seed, epoch)
        labels = self.train_labels[order]
        y_all = torch.from_numpy(labels).to(self.device)
        logits_of = self.feed.train_pass(epoch, order)
        losses, sizes, preds = [], [], []
        for start in range(0, n, bs):
            stop_if_cancelled(self.cancel)
            part = slice(start, start + bs)
            y = y_all[part]
            logits = logits_of(part)
            loss = self.train_loss(logits.float(), y)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
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
        acc, bal = accuracies(labels, torch.cat(preds).cpu().numpy(), self.n_classes)
        return PassResult(mean_loss, acc, bal)

    def validate(self) -> PassResult:
        self.model.eval()
        with torch.no_grad():
            logits = self.feed.val_logits()
        loss = float(self.val_loss(logits, self.val_labels)) / len(self.data.val_labels)
        if not math.isfinite(loss):
            raise TrainingDiverged(f"The validation loss became {loss}: training diverged.")
        proba = torch.softmax(logits, 1).cpu().numpy().astype(np.float64)
        acc, bal = accuracies(self.data.val_labels, proba.argmax(1), self.n_classes)
        return PassResult(loss, acc, bal, proba)
