"""Tiny real models for the export and classification tests.

timm's ``test_efficientnet`` (random weights, no download) at 96 px gives a
3 x 3 feature map, enough for a heatmap with structure. The head is drawn
with larger weights than PyTorch's default so that different images get
clearly different probabilities (a test comparing two paths must be able
to see a difference).
"""

from __future__ import annotations

from pathlib import Path

import torch

from allgui.core.export.onnx import ExportMetadata, ExportResult, export_onnx
from allgui.core.model.classifier import AllClassifier, ModelConfig, build_model

SIZE = 96
CLASSES = ("all", "hem")


def tiny_model(seed: int = 0, n_classes: int = 2) -> AllClassifier:
    torch.manual_seed(seed)
    model = build_model(
        ModelConfig(backbone="test_efficientnet", weights="none", hidden=16, n_classes=n_classes)
    )
    with torch.no_grad():
        for layer in (model.head.fc1, model.head.fc2):
            layer.weight.normal_(0.0, 0.5)
            layer.bias.normal_(0.0, 0.1)
    return model.eval()


def export_tiny(
    path: Path, model: AllClassifier | None = None, size: int = SIZE, **metadata
) -> tuple[AllClassifier, ExportResult]:
    model = model or tiny_model()
    meta = ExportMetadata(
        classes=metadata.pop("classes", CLASSES),
        positive_class=metadata.pop("positive_class", "all"),
        **metadata,
    )
    torch.set_num_threads(1)
    return model, export_onnx(model, path, meta, input_size=size)


class TinyModels:
    """The ``tiny_models`` fixture: the tiny model, its export and their figures."""

    classes = CLASSES
    size = SIZE
    model = staticmethod(tiny_model)
    export = staticmethod(export_tiny)
