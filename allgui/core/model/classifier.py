"""The classifier: a timm backbone (frozen by default) and the paper's head.

Head order, as the paper's Keras head::

    backbone feature map (N, C, h, w)
      -> global average pooling (N, C)
      -> Dropout(dropout1) -> Linear(C, hidden) -> ReLU
      -> Dropout(dropout2) -> Linear(hidden, n_classes)  -> logits

Weights for the backbone come from one of three places:

- ``'imagenet'``: timm's own hub mechanism (needs the internet once; timm
  caches the file afterwards);
- a path to a local file (``.safetensors``, or a state dict in ``.pt`` /
  ``.pth`` / ``.bin`` read with ``weights_only=True``) for offline clinics;
- ``'none'``: random initialisation (tests, or training from scratch).

Input normalisation and the default input size come from the backbone's own
timm data config, so training, export and inference agree.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from allgui.core.errors import AllguiError, WeightsError
from allgui.core.model.params import UNTUNED
from allgui.core.model.weights import create_pretrained

OFFLINE_HINT = (
    "To work offline, choose a local weights file for the backbone "
    "(.safetensors, .pth or .pt), or 'none' to start from random weights."
)


@dataclass(frozen=True)
class ModelConfig:
    """What the classifier is: everything needed to build it again."""

    backbone: str = "efficientnet_b2"  # any timm model name
    weights: str = "imagenet"  # 'imagenet', 'none', or a path to a weights file
    hidden: int = UNTUNED["hidden"]
    dropout1: float = UNTUNED["dropout1"]
    dropout2: float = UNTUNED["dropout2"]
    n_classes: int = 2
    finetune_stages: int = 0  # 0 = frozen backbone (the paper); N = train its last N stages

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def build_head(features: int, hidden: int, dropout1: float, dropout2: float, n_classes: int):
    """The paper's head, applied to globally pooled features (N, features)."""
    return nn.Sequential(
        OrderedDict(
            dropout1=nn.Dropout(dropout1),
            fc1=nn.Linear(features, hidden),
            relu=nn.ReLU(),
            dropout2=nn.Dropout(dropout2),
            fc2=nn.Linear(hidden, n_classes),
        )
    )


class AllClassifier(nn.Module):
    """Backbone + GAP + head. ``forward`` takes normalised float NCHW images
    (see :attr:`mean`, :attr:`std`) and returns logits (N, n_classes).

    Frozen backbone parts stay in eval mode even while the head trains, so
    their batch-norm statistics never drift (Keras' ``trainable = False``).
    """

    def __init__(self, config: ModelConfig, backbone: nn.Module, data_config: dict) -> None:
        super().__init__()
        self.config = config
        self.backbone = backbone
        self.num_features = int(cast(Any, backbone).num_features)  # timm models have it
        self.head = build_head(
            self.num_features, config.hidden, config.dropout1, config.dropout2, config.n_classes
        )
        self.data_config = dict(data_config)  # timm's, for building siblings (with_head)
        self.mean: tuple[float, ...] = tuple(float(v) for v in data_config["mean"])
        self.std: tuple[float, ...] = tuple(float(v) for v in data_config["std"])
        self.input_size: tuple[int, ...] = tuple(int(v) for v in data_config["input_size"])
        self.trainable_backbone_modules: list[nn.Module] = []
        self._freeze(config.finetune_stages)

    # -- freezing ------------------------------------------------------
    def _freeze(self, stages: int) -> None:
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        if stages <= 0:
            return
        names = _last_stage_parameter_names(self.backbone, stages)
        params = dict(self.backbone.named_parameters())
        for name in names:
            params[name].requires_grad_(True)
        # Modules owning a trainable parameter run in train mode with the head.
        owners = {name.rsplit(".", 1)[0] for name in names}
        self.trainable_backbone_modules = [
            m for n, m in self.backbone.named_modules() if n in owners
        ]

    @property
    def frozen(self) -> bool:
        return self.config.finetune_stages <= 0

    def train(self, mode: bool = True) -> AllClassifier:
        # Not nn.Module's recursion into every backbone module on each call
        # (hundreds of modules, twice per epoch): a frozen backbone is put in
        # eval mode once and left there.
        self.training = mode
        self.head.train(mode)
        if self.frozen:
            if self.backbone.training:
                self.backbone.eval()
        else:
            self.backbone.eval()
            for m in self.trainable_backbone_modules:
                m.train(mode)
        return self

    def with_head(self, config: ModelConfig) -> AllClassifier:
        """A classifier sharing this one's backbone (not copied) with a fresh
        head for ``config`` (same backbone; hidden and dropouts may differ).
        What a search does per trial when the backbone is frozen."""
        if config.backbone != self.config.backbone or config.finetune_stages:
            raise ValueError("with_head shares a frozen backbone of the same kind only")
        sibling = AllClassifier(config, self.backbone, self.data_config)
        sibling.mean, sibling.std = self.mean, self.std
        return sibling

    # -- forward -------------------------------------------------------
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone's last feature map (N, C, h, w), C = :attr:`num_features`.

        timm's ``forward_features``: for most CNNs (EfficientNet, ResNet) the
        same as ``backbone(x)``; for a few (MobileNetV3) ``backbone(x)`` adds
        timm's own head convolution, which the paper's head replaces.
        """
        return cast(Any, self.backbone).forward_features(x)

    @staticmethod
    def pool(features: torch.Tensor) -> torch.Tensor:
        """Global average pooling: (N, C, h, w) -> (N, C); token outputs
        (N, L, C) of transformer backbones are averaged over the tokens."""
        if features.ndim == 4:
            return features.mean(dim=(2, 3))
        if features.ndim == 3:
            return features.mean(dim=1)
        return features

    def forward_head(self, pooled: torch.Tensor) -> torch.Tensor:
        """The head on pooled features (N, C) -> logits."""
        return self.head(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.pool(self.forward_features(x)))


def _last_stage_parameter_names(backbone: nn.Module, stages: int) -> list[str]:
    """Names of the parameters in the backbone's last ``stages`` coarse groups
    (timm's own grouping: stem, then one group per stage)."""
    from timm.models import group_parameters

    try:
        groups = group_parameters(backbone, cast(Any, backbone).group_matcher(coarse=True))
    except (AttributeError, NotImplementedError) as exc:
        raise AllguiError(
            "This backbone does not say where its stages are, so it cannot be "
            "partly fine-tuned; use finetune_stages = 0.",
            str(exc),
        ) from exc
    order = sorted(groups)
    chosen = order[-stages:] if stages < len(order) else order
    return [name for gid in chosen for name in groups[gid]]


# -- building --------------------------------------------------------------
def weights_tag(model: AllClassifier, seed: int | None = None) -> str:
    """Which backbone weights ``model`` holds, exactly: timm's pretrained tag
    (``efficientnet_b2.ra_in1k``) for ImageNet weights, the file for a local
    one, the seed for a random initialisation."""
    weights = model.config.weights
    if weights == "none":
        return "random initialisation" + (f" (seed {seed})" if seed is not None else "")
    if weights != "imagenet":
        return f"local file {Path(weights).name}"
    cfg = getattr(model.backbone, "pretrained_cfg", None) or {}
    arch, tag = cfg.get("architecture") or model.config.backbone, cfg.get("tag")
    return f"timm {arch}.{tag}" if tag else f"timm {arch}"


def build_model(config: ModelConfig) -> AllClassifier:
    """Build the classifier, loading backbone weights as ``config.weights`` says.

    Raises :class:`WeightsError` when weights cannot be had (hub unreachable,
    file missing, corrupt, or for another backbone), and :class:`AllguiError`
    for an unknown backbone or impossible head settings.
    """
    import timm

    _check_config(config)
    if not timm.is_model(config.backbone):
        raise AllguiError(
            f"'{config.backbone}' is not a backbone timm knows.",
            "See timm.list_models() for the names it accepts.",
        )
    weights = (config.weights or "none").strip()
    kwargs: dict[str, Any] = dict(num_classes=0, global_pool="")
    if weights.lower() == "imagenet":
        try:
            backbone = create_pretrained(config.backbone, **kwargs)
        except Exception as exc:  # the hub raises many kinds (OSError, HTTP, offline...)
            raise WeightsError(
                f"Could not get ImageNet weights for {config.backbone} from the internet. "
                + OFFLINE_HINT,
                f"{type(exc).__name__}: {exc}",
            ) from exc
    else:
        backbone = timm.create_model(config.backbone, pretrained=False, **kwargs)
        if weights.lower() != "none":
            load_backbone_weights(backbone, weights)
    data_config = timm.data.resolve_model_data_config(backbone)
    return AllClassifier(config, backbone, data_config)


def _check_config(config: ModelConfig) -> None:
    problems = []
    if config.hidden < 1:
        problems.append("the hidden layer needs at least one unit")
    for name in ("dropout1", "dropout2"):
        if not 0.0 <= getattr(config, name) < 1.0:
            problems.append(f"{name} must be at least 0 and below 1")
    if config.n_classes < 2:
        problems.append("a classifier needs at least two classes")
    if config.finetune_stages < 0:
        problems.append("finetune_stages cannot be negative")
    if problems:
        raise AllguiError("The model settings are not usable: " + "; ".join(problems) + ".")


def read_weights_file(path: str | Path) -> dict[str, torch.Tensor]:
    """A flat ``name -> tensor`` dict from a .safetensors file or a state dict
    saved by torch, read by timm's ``load_state_dict``: ``weights_only`` (no
    code runs), the usual wrappers unpacked (EMA weights preferred) and the
    ``module.`` / ``_orig_mod.`` prefixes of DDP and torch.compile removed."""
    from timm.models import load_state_dict

    p = Path(path).expanduser()
    if not p.is_file():
        raise WeightsError(f"The weights file {p} does not exist. " + OFFLINE_HINT)
    try:
        data: Any = load_state_dict(str(p), use_ema=True, device="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(
            f"The weights file {p.name} cannot be read: it is damaged or not a weights file.",
            f"{type(exc).__name__}: {exc}",
        ) from exc
    if not isinstance(data, dict) or not data or not all(
        isinstance(v, torch.Tensor) for v in data.values()
    ):
        raise WeightsError(f"The file {p.name} does not hold model weights (a state dict).")
    # An allgui checkpoint's state dict: keep the backbone part.
    if any(k.startswith("backbone.") for k in data):
        data = {k[len("backbone."):]: v for k, v in data.items() if k.startswith("backbone.")}
    return dict(data)


def load_backbone_weights(backbone: nn.Module, path: str | Path) -> None:
    """Load a local weights file into ``backbone`` (built with ``num_classes=0``);
    the file's own classifier, if any, is ignored. Anything else that does not
    fit is a :class:`WeightsError`."""
    state = read_weights_file(path)
    classifier = getattr(backbone, "pretrained_cfg", {}).get("classifier") or ()
    prefixes = tuple(
        c + "." for c in ((classifier,) if isinstance(classifier, str) else classifier)
    )
    state = {k: v for k, v in state.items() if not (prefixes and k.startswith(prefixes))}
    name = Path(path).name
    try:
        result = backbone.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        raise WeightsError(
            f"The weights in {name} do not fit this backbone (layer shapes differ).",
            str(exc)[:2000],
        ) from exc
    if result.missing_keys or result.unexpected_keys:
        raise WeightsError(
            f"The weights in {name} are for a different backbone: "
            f"{len(result.missing_keys)} layers missing, "
            f"{len(result.unexpected_keys)} unknown.",
            "missing: " + ", ".join(result.missing_keys[:10])
            + "; unknown: " + ", ".join(result.unexpected_keys[:10]),
        )
