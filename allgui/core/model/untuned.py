"""allgui's untuned settings: the head and optimiser a model gets when nothing
was searched or entered (the paper's starting point). The one place they are
written: ModelConfig and HyperParams take their defaults from here, the search
fills parameters it does not search from here, and ``--baseline default``
trains exactly these. Torch-free, so the window can show them."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

UNTUNED = MappingProxyType({
    "hidden": 512,
    "dropout1": 0.3,
    "dropout2": 0.2,
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "batch_size": 32,
})


def untuned_defaults() -> dict[str, Any]:
    """A fresh copy of :data:`UNTUNED` (callers may change it)."""
    return dict(UNTUNED)


def with_untuned(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` over the untuned settings (a value of None counts as missing)."""
    return {**UNTUNED, **{k: v for k, v in values.items() if v is not None}}
