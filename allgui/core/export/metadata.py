"""What an exported file says about its model: the caller's metadata, the
model card it carries (the checkpoint's, with the metadata over it) and the
values written into the file's properties."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from allgui import RESEARCH_NOTICE, __version__
from allgui.core.errors import AllguiError
from allgui.core.infer.limits import check_margin, check_threshold
from allgui.core.infer.training_data import METADATA_KEY as TRAINING_KEY
from allgui.core.model.card import ModelCard
from allgui.core.model.classifier import AllClassifier

DEFAULT_MARGIN = 0.2  # flagged uncertain below this when no margin was chosen on validation
EXPORTER = "torch.onnx TorchScript exporter (dynamo=False)"


@dataclass(frozen=True)
class ExportMetadata:
    """What the exported file says about the model, besides its size and normalisation.

    Fields left empty are taken from the checkpoint's model card when
    exporting one; the file carries that card with these over it.
    """

    classes: tuple[str, ...] = ()
    positive_class: str | None = None
    decision_threshold: float = 0.5
    # None: the margin chosen on validation (the checkpoint's card), else 0.2
    uncertain_margin: float | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    test_set: str = ""  # what the metrics were measured on, in words
    study: str = ""
    trial: int | None = None
    run: int | None = None
    source: str = ""  # the checkpoint, for the record
    selection: str = ""  # how this run was chosen among the batch's runs
    # each figure over the batch's runs: {key: {"mean", "ci_low", "ci_high", "runs"}}
    batch_metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    temperature: float | None = None  # calibration; None = the checkpoint's card (else 1)
    interval_note: str = ""  # how batch_metrics' test_low/test_high were made
    # the images the model saw: content hashes (train and validation), and
    # samples whose features make the out-of-distribution yardstick
    training_hashes: tuple[str, ...] = ()
    feature_images: tuple[tuple[str, int], ...] = ()  # (training image, class id)
    reference_images: tuple[str, ...] = ()  # held-out (validation) images

    def __post_init__(self) -> None:  # never a rule stored that reading the model refuses
        check_threshold(self.decision_threshold)
        if self.uncertain_margin is not None:
            check_margin(self.uncertain_margin)
        if self.temperature is not None and not 0 < self.temperature < float("inf"):
            raise AllguiError(f"The temperature must be a positive number, not {self.temperature}.")


def file_card(metadata: ExportMetadata | None, model: AllClassifier, ckpt: Any, size: int
          ) -> ModelCard:
    """The model card the file carries: the checkpoint's, with what ``metadata``
    says winning over it."""
    meta = metadata or ExportMetadata()
    base = ckpt.card if ckpt is not None else ModelCard()
    classes = meta.classes or base.classes or tuple(
        f"class_{i}" for i in range(model.config.n_classes))
    positive = meta.positive_class
    if positive is None and base.positive_class in classes:
        positive = base.positive_class
    said = {k: getattr(meta, k) for k in ("test_set", "study") if getattr(meta, k)}
    said.update({k: getattr(meta, k) for k in ("trial", "run") if getattr(meta, k) is not None})
    card = replace(base, classes=tuple(classes), positive_class=positive, input_size=size,
                   provenance=replace(base.provenance, **said),
                   metrics=dict(meta.metrics) or dict(base.metrics),
                   temperature=base.temperature if meta.temperature is None
                   else float(meta.temperature))
    if len(card.classes) != model.config.n_classes:
        raise AllguiError(
            f"{len(card.classes)} class names were given for a model with "
            f"{model.config.n_classes} classes."
        )
    if card.positive_class is not None and card.positive_class not in card.classes:
        raise AllguiError(f"The positive class '{card.positive_class}' is not one of the classes.")
    return card


def file_values(card: ModelCard, meta: ExportMetadata, model: AllClassifier,
                map_size: tuple[int, int], source: str, training: Any, opset: int
                ) -> dict[str, Any]:
    """The values the file's properties carry (``training``: the training
    images' record, or None)."""
    created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    return {
        **card.to_dict(),
        "input_format": "uint8 RGB, batch x height x width x 3, resized with the area filter",
        "mean": list(model.mean),
        "std": list(model.std),
        "decision_threshold": meta.decision_threshold,
        "uncertain_margin": (meta.uncertain_margin if meta.uncertain_margin is not None
                             else card.uncertain_margin if card.uncertain_margin is not None
                             else DEFAULT_MARGIN),
        "heatmap": "Grad-CAM on the last feature map, closed form",
        "heatmap_size": list(map_size),
        "backbone": model.config.backbone,
        "model_config": model.config.to_dict(),
        "source": meta.source or source,
        "selection": meta.selection,
        "batch_metrics": {k: dict(v) for k, v in meta.batch_metrics.items()},
        "interval_note": meta.interval_note,
        TRAINING_KEY: training.to_dict() if training is not None else None,
        "allgui_version": __version__,
        "created": created,
        "exporter": f"{EXPORTER}, torch {torch.__version__}, opset {opset}",
        "research_notice": RESEARCH_NOTICE,
    }
