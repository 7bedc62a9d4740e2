"""The model settings checked against what timm and the disk hold, before
they are saved: an unknown backbone, a missing weights file or more
fine-tuned stages than the backbone has would otherwise be stored in
project.toml and fail every later search."""

from __future__ import annotations

import difflib
from pathlib import Path

from allgui.core.checks import SettingError
from allgui.core.model.backbones import CHOICES, capabilities
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
    caps = capabilities(name)
    if not caps.spatial_map:
        raise SettingError(
            f"The backbone {name!r} gives no spatial feature map (its features are "
            f"{'x'.join(map(str, caps.feature_shape[1:]))}, not channels x height x width: a "
            "transformer, say), so allgui could neither draw heatmaps nor export it. Choose a "
            f"convolutional backbone, such as {', '.join(CHOICES[:3])}.")
    if model.finetune_stages:
        stages = caps.stages
        if stages is None:
            raise SettingError(f"The backbone {name!r} does not say where its stages are, so "
                               "it cannot be partly fine-tuned; use finetune_stages = 0.")
        if model.finetune_stages > stages:
            raise SettingError(f"The backbone {name!r} has {stages} stages, so finetune_stages "
                               f"must be between 0 and {stages}, not {model.finetune_stages}.")

