"""Frozen-backbone features, computed once and shared by every trial.

With the backbone frozen, its forward pass is the same in every trial and
almost all of the cost. The ``cached`` mode therefore runs it once per
augmented view: ``K`` views of every training image (view ``v`` drawn with
:func:`allgui.core.train.augment.view_generator` (seed, v)) and the plain view of
every validation image. Epoch ``e`` of any trial trains on view ``e mod K``.

On disk (``<project>/cache/features/<key>/``) each view is one ``.npy``
(float32, N x C), written atomically when complete, so an interrupted build
resumes at the first missing view. The key hashes everything that decides
the numbers: the backbone's weights, the images and labels, K, the seed,
the augmentation, the numeric precision and the layout version.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from allgui.core.errors import Cancelled
from allgui.core.files.atomic import atomic_open, atomic_write_text
from allgui.core.model.classifier import AllClassifier
from allgui.core.train.augment import (
    PAPER_AUGMENTATION,
    AugmentSettings,
    model_input,
    random_affine_matrices,
    view_generator,
)
from allgui.core.train.device import backbone_batch

LAYOUT_VERSION = 1


@dataclass(frozen=True)
class FeatureSet:
    """Pooled backbone features: ``train_views[v]`` is (N_train, C) for view v;
    ``val`` is (N_val, C) for the plain validation images."""

    train_views: tuple[np.ndarray, ...]
    val: np.ndarray
    key: str
    seed: int
    _on_device: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @property
    def views(self) -> int:
        return len(self.train_views)

    def view_for_epoch(self, epoch: int) -> np.ndarray:
        """Epoch ``epoch`` (0-based) trains on view ``epoch mod K``."""
        return self.train_views[epoch % len(self.train_views)]

    def tensors(self, device: torch.device) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """(train views, val) as tensors on ``device``, made once and kept, so
        that every trial of a search gathers its batches there."""
        key = str(device)
        if key not in self._on_device:
            # Copies: the arrays may be read-only memory maps of the cache files.
            views = tuple(torch.tensor(np.asarray(v), device=device) for v in self.train_views)
            self._on_device[key] = (views, torch.tensor(np.asarray(self.val), device=device))
        return self._on_device[key]


def array_fingerprint(*arrays: np.ndarray) -> str:
    """A short hash of arrays' shapes, dtypes and bytes."""
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.shape}{a.dtype}".encode())
        h.update(a.data.cast("B"))  # no copy: the images may be gigabytes
    return h.hexdigest()


def weights_fingerprint(model: AllClassifier) -> str:
    """A hash of the backbone's weights and buffers (what decides its features)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(model.config.backbone.encode())
    for name, t in model.backbone.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def extract(
    model: AllClassifier,
    images: np.ndarray,
    device: torch.device,
    *,
    matrices: torch.Tensor | None = None,
    batch_size: int = 0,
    amp: bool = True,
    cancel: threading.Event | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Pooled backbone features (N, C) float32 of uint8 NHWC ``images``,
    each augmented by its row of ``matrices`` when given."""
    model.eval()
    batch_size = backbone_batch(device, batch_size)
    cuda = device.type == "cuda"
    if cuda:
        model.backbone.to(memory_format=torch.channels_last)
    out = np.empty((len(images), model.num_features), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            stop = min(start + batch_size, len(images))
            m = None if matrices is None else matrices[start:stop]
            x = model_input(images[start:stop], model.mean, model.std, device, m)
            if cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda and amp):
                f = model.pool(model.forward_features(x))
            out[start:stop] = f.float().cpu().numpy()
            if on_batch is not None:
                on_batch(stop - start)
    return out


def build_feature_set(
    model: AllClassifier,
    train_images: np.ndarray,
    val_images: np.ndarray,
    *,
    views: int,
    seed: int,
    device: torch.device,
    cache_dir: str | Path | None = None,
    data_key: str = "",
    augmentation: AugmentSettings = PAPER_AUGMENTATION,
    batch_size: int = 0,  # 0: backbone_batch's choice for the device
    amp: bool = True,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FeatureSet:
    """K augmented training views and the plain validation view, from the
    cache when there, computed (and stored) otherwise. ``progress(done,
    total)`` counts images through the backbone, cached ones included."""
    if views < 1:
        raise ValueError("views must be at least 1")
    key = _key(model, train_images, val_images, views, seed, data_key, augmentation, device, amp)
    folder = Path(cache_dir) / "features" / key if cache_dir is not None else None
    total = views * len(train_images) + len(val_images)
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    if progress is not None:
        progress(0, total)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / "meta.json", json.dumps(_meta(model, views, seed, augmentation,
                                                                 len(train_images),
                                                                 len(val_images)), indent=1))

    def one(name: str, images: np.ndarray, matrices: torch.Tensor | None) -> np.ndarray:
        path = folder / f"{name}.npy" if folder is not None else None
        if path is not None and path.is_file():
            try:
                arr = np.load(path, mmap_mode="r")
                if arr.shape == (len(images), model.num_features):
                    step(len(images))
                    return arr
            except (OSError, ValueError):
                pass  # damaged: compute again
        arr = extract(model, images, device, matrices=matrices, batch_size=batch_size,
                      amp=amp, cancel=cancel, on_batch=step)
        if path is not None:
            with atomic_open(path, "wb") as fh:
                np.save(fh, arr)
        return arr

    val = one("val_plain", val_images, None)
    train_views = []
    for v in range(views):
        matrices = random_affine_matrices(len(train_images), view_generator(seed, v), augmentation)
        train_views.append(one(f"train_view_{v:03d}", train_images, matrices))
    return FeatureSet(train_views=tuple(train_views), val=val, key=key, seed=seed)


def _meta(model, views, seed, augmentation, n_train, n_val) -> dict:
    return {
        "layout_version": LAYOUT_VERSION,
        "backbone": model.config.backbone,
        "weights": model.config.weights,
        "features": model.num_features,
        "views": views,
        "seed": seed,
        "augmentation": dataclasses.asdict(augmentation),
        "train_images": n_train,
        "val_images": n_val,
    }


def _key(model, train_images, val_images, views, seed, data_key, augmentation, device, amp) -> str:
    precision = "bf16" if (device.type == "cuda" and amp) else "fp32"
    h = hashlib.sha256()
    h.update(json.dumps({
        "layout": LAYOUT_VERSION,
        "backbone": model.config.backbone,
        "weights": weights_fingerprint(model),
        "data": [data_key, array_fingerprint(train_images, val_images)],
        "views": views,
        "seed": seed,
        "augmentation": dataclasses.asdict(augmentation),
        "precision": precision,
    }, sort_keys=True).encode())
    return f"{model.config.backbone}-{h.hexdigest()[:16]}"
