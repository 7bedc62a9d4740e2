"""What a configuration trains with: the optimiser's settings, and the
parameter registry's values turned into a model and those settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from allgui.core.model.classifier import ModelConfig
from allgui.core.model.params import PARAMS, with_untuned

if TYPE_CHECKING:
    class HyperParams:
        """What a trial tunes besides the head's shape (which is in ModelConfig)."""

        lr: float
        weight_decay: float
        batch_size: int

        def __init__(self, **values: Any) -> None: ...
        def __getattr__(self, name: str) -> Any: ...  # a parameter added to the registry
else:
    # A frozen dataclass with a field for each parameter the registry sends to
    # the optimiser or the batch, its default the untuned value: a parameter
    # added there reaches training with no second list to keep.
    HyperParams = dataclasses.make_dataclass(
        "HyperParams",
        [(p.name, p.type, dataclasses.field(default=p.default))
         for p in PARAMS if p.goes_to != "model"],
        frozen=True,
        namespace={"__doc__": "What a trial tunes besides the head's shape (which is in "
                              "ModelConfig): one field per registry parameter that goes "
                              "to the optimiser or the batch."})
    HyperParams.__module__ = __name__


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
