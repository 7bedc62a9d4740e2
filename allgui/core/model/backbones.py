"""The backbones allgui offers, and what a backbone can do: the one place both
front ends list their choices from, and where a backbone that cannot serve the
whole path (search, validation, heatmaps, export) is refused before any
training.

Any timm model name is accepted if it has what allgui needs: a spatial feature
map (heatmaps and the exported model's Grad-CAM are drawn on it; a vision
transformer gives tokens instead) and, to fine-tune some of it, stages timm
can name. Both are read from the model built on the meta device: no memory
for weights, no download.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BackboneFamily:
    """A family allgui offers by name, and the members it lists first."""

    name: str
    choices: tuple[str, ...]


FAMILIES: tuple[BackboneFamily, ...] = (
    BackboneFamily("EfficientNet", ("efficientnet_b2", "efficientnet_b0")),
    BackboneFamily("ResNet", ("resnet18",)),
    BackboneFamily("MobileNetV3", ("mobilenetv3_small_050",)),
    BackboneFamily("ConvNeXt", ("convnext_tiny",)),
)
# What the window offers (it also takes any other timm name typed in), the
# paper's EfficientNet-B2 first.
CHOICES: tuple[str, ...] = tuple(name for family in FAMILIES for name in family.choices)


@dataclass(frozen=True)
class Capabilities:
    """What a backbone gives allgui."""

    spatial_map: bool  # forward_features is N x C x H x W (heatmaps, export)
    feature_shape: tuple[int, ...]  # of one image at the backbone's own input size
    stages: int | None  # coarse parameter groups fine-tuning counts in; None: unnamed


def capabilities(backbone: str) -> Capabilities:
    """What ``backbone`` (a timm name) can do, from a model built on the meta
    device. Raises what timm raises for a name it does not know."""
    from typing import Any

    import timm
    import torch
    from timm.models import group_parameters

    with torch.device("meta"):
        net: Any = timm.create_model(backbone, pretrained=False, num_classes=0)
        size = tuple(net.pretrained_cfg.get("input_size") or (3, 224, 224))
        with torch.no_grad():
            shape = tuple(int(n) for n in net.forward_features(torch.zeros(1, *size)).shape)
    try:
        stages: int | None = len(group_parameters(net, net.group_matcher(coarse=True)))
    except (AttributeError, NotImplementedError):
        stages = None
    return Capabilities(spatial_map=len(shape) == 4, feature_shape=shape, stages=stages)
