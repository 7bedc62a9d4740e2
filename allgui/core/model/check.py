"""The model settings checked against what timm and the disk hold, before
they are saved: an unknown backbone, a missing weights file or more
fine-tuned stages than the backbone has would otherwise be stored in
project.toml and fail every later search."""

from __future__ import annotations

import difflib
from pathlib import Path

from allgui.core.checks import SettingError
from allgui.core.project import ModelSettings


def check_model_settings(model: ModelSettings) -> None:
    """Refuse ``model`` in a sentence naming what is wrong (SettingError)."""
    import timm

    name = model.backbone
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)
        hint = (f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else
                " timm.list_models() lists the names it accepts.")
        raise SettingError(f"The backbone {name!r} is not one timm knows.{hint} "
                           "The project's model settings were left as they were.")
    weights = model.weights.strip()
    if weights.lower() not in ("imagenet", "none") and not Path(weights).expanduser().is_file():
        raise SettingError(f"The weights file {weights} does not exist; give the path of a "
                           "weights file, 'imagenet' or 'none'.")
    if model.finetune_stages:
        stages = stage_count(name)
        if stages is None:
            raise SettingError(f"The backbone {name!r} does not say where its stages are, so "
                               "it cannot be partly fine-tuned; use finetune_stages = 0.")
        if model.finetune_stages > stages:
            raise SettingError(f"The backbone {name!r} has {stages} stages, so finetune_stages "
                               f"must be between 0 and {stages}, not {model.finetune_stages}.")


def stage_count(backbone: str) -> int | None:
    """The coarse parameter groups (stem, then one per stage) that fine-tuning
    counts in, or None when the backbone does not define them. Built on the
    meta device: no memory for weights, no download."""
    from typing import Any, cast

    import timm
    import torch
    from timm.models import group_parameters

    with torch.device("meta"):
        net = timm.create_model(backbone, pretrained=False, num_classes=0)
    try:
        return len(group_parameters(net, cast(Any, net).group_matcher(coarse=True)))
    except (AttributeError, NotImplementedError):
        return None
