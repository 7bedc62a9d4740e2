"""What a configuration trains with: the optimiser's settings, and the
parameter registry's values turned into a model and those settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from allgui.core.model.classifier import ModelConfig
from allgui.core.model.params import PARAMS, UNTUNED, with_untuned


@dataclass(frozen=True)
class HyperParams:
    """What a trial tunes besides the head's shape (which is in ModelConfig)."""

    lr: float = UNTUNED["lr"]
    weight_decay: float = UNTUNED["weight_decay"]
    batch_size: int = UNTUNED["batch_size"]


def configuration(values: Mapping[str, Any], *, backbone: str, weights: str,
                  finetune_stages: int, n_classes: int) -> tuple[ModelConfig, HyperParams]:
    """``(ModelConfig, HyperParams)`` of ``values`` over the untuned settings:
    each parameter goes where the registry says; ``backbone`` is the model's
    when ``values`` names none."""
    full = with_untuned(values)
    model: dict[str, Any] = {}
    hparams: dict[str, Any] = {}
    for p in PARAMS:
        if p.name not in full:
            continue
        (model if p.goes_to == "model" else hparams)[p.name] = p.type(full[p.name])
    model["backbone"] = str(full.get("backbone") or backbone)
    config = ModelConfig(weights=weights, n_classes=n_classes,
                         finetune_stages=finetune_stages, **model)
    return config, HyperParams(**hparams)
