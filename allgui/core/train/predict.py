"""Class probabilities from a trained classifier: from images (the whole model)
or from cached backbone features (the head alone).
"""

from __future__ import annotations

import threading

import numpy as np
import torch

from allgui.core.model.classifier import AllClassifier
from allgui.core.train.augment import model_input
from allgui.core.train.device import autocast, resolve_device
from allgui.core.train.sources import stop_if_cancelled


def head_proba(model: AllClassifier, features: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Class probabilities (N, n_classes) from pooled backbone features (N, C),
    the head in fp32 on the CPU (the features came through the cached path)."""
    model.to("cpu").eval()
    out = [np.zeros((0, model.config.n_classes), dtype=np.float32)]
    with torch.inference_mode():
        for start in range(0, len(features), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(features[start:start + batch_size],
                                                      dtype=np.float32))
            out.append(torch.softmax(model.forward_head(x).float(), 1).numpy())
    return np.concatenate(out)


def predict_proba(
    model: AllClassifier,
    images: np.ndarray,
    device: str | torch.device | None = None,
    batch_size: int = 64,
    cancel: threading.Event | None = None,
) -> np.ndarray:
    """Class probabilities (N, n_classes) for uint8 (N, H, W, 3) images."""
    dev = resolve_device(device)
    model = model.to(dev).eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            stop_if_cancelled(cancel)
            x = model_input(images[start:start + batch_size], model.mean, model.std, dev)
            with autocast(dev):
                out.append(torch.softmax(model(x).float(), 1).cpu().numpy())
    if not out:
        return np.zeros((0, model.config.n_classes), dtype=np.float32)
    return np.concatenate(out)
