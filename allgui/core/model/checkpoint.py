"""Trained-model checkpoints: one file that rebuilds the classifier exactly.

A checkpoint is a ``torch.save`` of plain data only (tensors, numbers,
strings, lists, dicts), so :func:`load_checkpoint` reads it with
``weights_only=True`` and no code from the file ever runs. It holds the
state dict, the :class:`~allgui.core.model.classifier.ModelConfig`, the class names,
the image size the model was trained at, the normalisation (mean/std), its
:class:`~allgui.core.model.card.ModelCard` (provenance and test figures, stored
flat among the extras, as older versions stored them) and whatever plain
extras the caller adds (hyperparameters, best epoch). Writes are atomic.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from allgui import __version__
from allgui.core.errors import ModelFileError
from allgui.core.files.atomic import atomic_write_bytes
from allgui.core.model.card import ModelCard
from allgui.core.model.classifier import AllClassifier, ModelConfig, build_model

FORMAT = "allgui-checkpoint"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class CheckpointInfo:
    """Everything a checkpoint says about its model besides the weights."""

    model_config: ModelConfig
    class_names: tuple[str, ...]
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    input_size: tuple[int, ...]
    extra: dict[str, Any] = field(default_factory=dict)
    allgui_version: str = ""
    card: ModelCard = field(default_factory=ModelCard)  # read from the extras


def save_checkpoint(
    path: str | Path,
    model: AllClassifier,
    model_config: ModelConfig,
    extra: dict[str, Any] | None = None,
    *,
    class_names: tuple[str, ...] | list[str] | None = None,
    image_size: int | None = None,
    card: ModelCard | None = None,
) -> None:
    """Write ``model`` to ``path`` atomically.

    ``class_names`` and ``image_size`` may also be given as keys of ``extra``
    (``extra['class_names']``, ``extra['image_size']``) or by ``card``; when
    none says, classes are named ``class_0``.. and the size is the backbone's
    default. ``extra`` must hold plain values only (numbers, strings, lists,
    dicts); the card's items are stored among them.
    """
    extra = dict(extra or {})
    if card is not None:
        stored = card.to_dict()
        # The checkpoint's own class names and image size say these two.
        card_names, card_size = stored.pop("classes"), stored.pop("input_size")
        if class_names is None and card_names:
            class_names = card_names
        if image_size is None and card_size:
            image_size = card_size
        extra.update(stored)
    names = class_names if class_names is not None else extra.pop("class_names", None)
    size = image_size if image_size is not None else extra.pop("image_size", None)
    if names is None:
        names = [f"class_{i}" for i in range(model_config.n_classes)]
    if len(names) != model_config.n_classes:
        raise ValueError(f"{len(names)} class names for {model_config.n_classes} classes")
    if size is None:
        size = int(model.input_size[-1])
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "allgui_version": __version__,
        "model_config": model_config.to_dict(),
        "class_names": [str(n) for n in names],
        "image_size": int(size),
        "mean": [float(v) for v in model.mean],
        "std": [float(v) for v in model.std],
        "input_size": [int(v) for v in model.input_size],
        "extra": extra,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def read_checkpoint_info(path: str | Path) -> tuple[CheckpointInfo, dict[str, torch.Tensor]]:
    """The checkpoint's description and its state dict, without building a model."""
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"The model file {p} does not exist.")
    try:
        payload = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelFileError(
            f"The model file {p.name} cannot be read: it is damaged or not an allgui model.",
            f"{type(exc).__name__}: {exc}",
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"{p.name} is not an allgui model checkpoint.")
    if int(payload.get("format_version", 0)) > FORMAT_VERSION:
        raise ModelFileError(
            f"{p.name} was saved by a newer allgui ({payload.get('allgui_version')}); "
            "update allgui to open it."
        )
    try:
        extra = dict(payload.get("extra") or {})
        names, size = tuple(payload["class_names"]), int(payload["image_size"])
        info = CheckpointInfo(
            model_config=ModelConfig.from_dict(payload["model_config"]),
            class_names=names,
            image_size=size,
            mean=tuple(payload["mean"]),
            std=tuple(payload["std"]),
            input_size=tuple(payload["input_size"]),
            extra=extra,
            allgui_version=str(payload.get("allgui_version", "")),
            card=ModelCard.from_dict({**extra, "classes": names, "input_size": size}),
        )
        state = payload["state_dict"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{p.name} is incomplete or damaged.", str(exc)) from exc
    return info, state


def load_checkpoint(path: str | Path) -> tuple[AllClassifier, CheckpointInfo]:
    """Rebuild the trained classifier (in eval mode, on the CPU) and its info.

    No download happens: the backbone is built without pretrained weights
    and every weight comes from the file.
    """
    info, state = read_checkpoint_info(path)
    config = dataclasses.replace(info.model_config, weights="none")
    model = build_model(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelFileError(
            f"The weights in {Path(path).name} do not match the model it describes.",
            str(exc)[:2000],
        ) from exc
    # Keep the checkpoint's own normalisation (it is what the model was trained with).
    model.mean, model.std = tuple(info.mean), tuple(info.std)
    model.eval()
    return model, info
