"""Frozen-backbone features, computed once and shared by every trial.

With the backbone frozen, its forward pass is the same in every trial and
almost all of the cost. The ``cached`` mode therefore runs it once per
augmented view: ``K`` views of every training image (view ``v`` drawn with
:func:`allgui.core.train.augment.view_generator` (seed, v)) and the plain view of
every validation image. Epoch ``e`` of any trial trains on view ``e mod K``.

On disk (``<project>/cache/features/<key>/``) each view is one ``.npy``
(float32, N x C), written atomically when complete, so an interrupted build
resumes at the first missing view. The key hashes everything that decides
the numbers: the backbone's weights, the images, the seed, the
augmentation, the numeric precision, the layout version and the path that
computed them (:mod:`allgui.core.train.runtime`: onnxruntime on a CPU,
torch on a GPU or as the fallback), which ``meta.json`` and
:attr:`FeatureSet.path` also name. Not K: view ``v`` is the same draw
whatever K is, so a job that needs more views than an entry holds computes
only the missing ones, and one that needs fewer reads the first.

Plain (unaugmented) features of any image set (the validation part, the
test set, the probe's training part) live in one store,
``features/plain/``, keyed by the images and the path, so no set is passed
through the backbone twice by a search, its validation and the probe.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from allgui.core.errors import Cancelled
from allgui.core.events import ticking
from allgui.core.files.atomic import atomic_open, atomic_write_text
from allgui.core.model.classifier import AllClassifier
from allgui.core.train.augment import (
    DEFAULT_AUGMENTATION,
    AugmentSettings,
    model_input,
    random_affine_matrices,
    view_generator,
)
from allgui.core.train.device import backbone_batch, precision_used
from allgui.core.train.fidelity import sample_rows
from allgui.core.train.openvino_engine import CALIBRATION_IMAGES
from allgui.core.train.runtime import (  # array_fingerprint: named here for older imports
    Runtime,
    TorchBackbone,
    array_fingerprint,
    choose_runtime,
)

CHECK_IMAGES = 4  # images on which an exported backbone must give torch's features

LAYOUT_VERSION = 2  # 2: K left out of the key; validation features in the plain store


@dataclass(frozen=True)
class FeatureSet:
    """Pooled backbone features: ``train_views[v]`` is (N_train, C) for view v;
    ``val`` is (N_val, C) for the plain validation images."""

    train_views: tuple[np.ndarray, ...]
    val: np.ndarray
    key: str
    seed: int
    path: str = ""  # what computed them, as printed: 'onnxruntime (CPU, 2 threads)'
    notice: str = ""  # why the preferred path was not taken; empty when it was
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
            self._on_device[key] = (tuple(_tensor(v, device) for v in self.train_views),
                                    _tensor(self.val, device))
        return self._on_device[key]


def _tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """One copy of ``array`` on ``device``, made once; every step then indexes it.
    A copy even on the CPU: the arrays may be read-only memory maps of the cache."""
    t = torch.from_numpy(np.array(array, dtype=np.float32, copy=True))
    return t if device.type == "cpu" else t.to(device)


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
    amp: bool | str = True,
    cancel: threading.Event | None = None,
    on_batch: Callable[[int], None] | None = None,
    runtime: Runtime | None = None,
) -> np.ndarray:
    """Pooled backbone features (N, C) float32 of uint8 NHWC ``images``,
    each augmented by its row of ``matrices`` when given, through
    ``runtime`` (eager torch on ``device`` when None)."""
    model.eval()
    batch_size = backbone_batch(device, batch_size)
    run = runtime.run if runtime is not None else TorchBackbone(model, device, amp)
    out = np.empty((len(images), model.num_features), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            stop = min(start + batch_size, len(images))
            m = None if matrices is None else matrices[start:stop]
            x = model_input(images[start:stop], model.mean, model.std, device, m)
            out[start:stop] = run(x).cpu().numpy()
            if on_batch is not None:
                on_batch(stop - start)
    return out


def feature_runtime(model: AllClassifier, images: np.ndarray, device: torch.device, *,
                    choice: str = "auto", amp: bool | str = True,
                    cache_dir: str | Path | None = None, weights: str = "",
                    precision: str = "fp32", labels: np.ndarray | None = None) -> Runtime:
    """The runner for ``model``'s backbone on ``device`` (see
    :mod:`allgui.core.train.runtime`), checked on the first few ``images``; a
    reduced ``precision`` calibrated on and checked against fp32 on samples of
    ``images`` (the project's training images; ``labels`` theirs)."""
    model.eval()
    sample = calibration = None
    sample_labels = None
    if precision != "fp32" and device.type == "cpu" and len(images):
        rows = sample_rows(len(images))
        sample = model_input(images[rows], model.mean, model.std, "cpu")
        sample_labels = np.asarray(labels)[rows] if labels is not None else None
        others = np.setdiff1d(np.arange(len(images)), rows)
        picked = others[sample_rows(len(others), CALIBRATION_IMAGES)] if len(others) else rows
        calibration = model_input(images[picked], model.mean, model.std, "cpu")
    check = model_input(images[:CHECK_IMAGES], model.mean, model.std, "cpu")
    return choose_runtime(model, device, check, weights=weights or weights_fingerprint(model),
                          choice=choice, amp=amp, cache_dir=cache_dir, precision=precision,
                          sample=sample, labels=sample_labels, calibration=calibration)


# What the window and the terminal say while the backbone's runner is made.
PREPARING = "Preparing the backbone (exported once, checked against torch)"


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
    augmentation: AugmentSettings = DEFAULT_AUGMENTATION,
    batch_size: int = 0,  # 0: backbone_batch's choice for the device
    amp: bool | str = True,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
    features: str = "auto",  # the engine: 'auto', 'onnxruntime', 'openvino' or 'torch'
    precision: str = "fp32",  # on a CPU engine: 'fp32', 'bf16' or 'int8' (checked first)
    train_labels: np.ndarray | None = None,  # for the precision's fidelity check
    preparing: Callable[[int], None] | None = None,
) -> FeatureSet:
    """K augmented training views and the plain validation view, from the
    cache when there, computed (and stored) otherwise. ``progress(done,
    total)`` counts images through the backbone, cached ones included;
    ``preparing(seconds so far)`` is called every few seconds while the
    backbone's runner is made (exported, loaded and checked: tens of seconds
    on a busy CPU, before the first image can be counted)."""
    if views < 1:
        raise ValueError("views must be at least 1")
    weights = weights_fingerprint(model)
    with ticking(preparing):
        runtime = feature_runtime(model, train_images, device, choice=features, amp=amp,
                                  cache_dir=cache_dir, weights=weights, precision=precision,
                                  labels=train_labels)
    key = _key(model, weights, train_images, val_images, seed, data_key, augmentation,
               device, amp, runtime.path.key_name)
    folder = Path(cache_dir) / "features" / key if cache_dir is not None else None
    step = _Counter(views * len(train_images) + len(val_images), progress)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        meta = _meta(model, max(views, _views_held(folder)), seed, augmentation,
                     len(train_images), len(val_images))
        meta["path"] = runtime.path.description
        meta["engine"], meta["precision"] = runtime.path.name, runtime.path.precision
        if runtime.path.fidelity is not None:
            meta["fidelity"] = runtime.path.fidelity.to_dict()
        atomic_write_text(folder / "meta.json", json.dumps(meta, indent=1))

    def compute(images: np.ndarray, matrices: torch.Tensor | None) -> np.ndarray:
        return extract(model, images, device, matrices=matrices, batch_size=batch_size,
                       amp=amp, cancel=cancel, on_batch=step, runtime=runtime)

    val = _stored(_plain_path(cache_dir, model, weights, val_images, device, amp, runtime),
                  (len(val_images), model.num_features), step, lambda: compute(val_images, None))
    train_views = []
    for v in range(views):
        matrices = random_affine_matrices(len(train_images), view_generator(seed, v), augmentation)
        path = folder / f"train_view_{v:03d}.npy" if folder is not None else None
        train_views.append(_stored(path, (len(train_images), model.num_features), step,
                                   functools.partial(compute, train_images, matrices)))
    return FeatureSet(train_views=tuple(train_views), val=val, key=key, seed=seed,
                      path=runtime.path.description, notice=runtime.path.notice)


class _Counter:
    """Counts images through the backbone (cached ones included) for ``progress``."""

    def __init__(self, total: int, progress: Callable[[int, int], None] | None) -> None:
        self.total, self.done, self.progress = total, 0, progress
        if progress is not None:
            progress(0, total)

    def __call__(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(self.done, self.total)


def _stored(path: Path | None, shape: tuple[int, int], step: Callable[[int], None],
            compute: Callable[[], np.ndarray]) -> np.ndarray:
    """The array kept at ``path`` when it is whole; computed and kept otherwise."""
    if path is not None and path.is_file():
        try:
            arr = np.load(path, mmap_mode="r")
            if arr.shape == shape:
                step(shape[0])
                return arr
        except (OSError, ValueError):
            pass  # damaged: compute again
    arr = compute()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path, "wb") as fh:
            np.save(fh, arr)
    return arr


def _views_held(folder: Path) -> int:
    """How many views an entry already holds (0, 1, ... without a gap)."""
    n = 0
    while (folder / f"train_view_{n:03d}.npy").is_file():
        n += 1
    return n


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


def _precision(device: torch.device, amp: bool | str) -> str:
    return precision_used(device, amp)


def _key(model, weights, train_images, val_images, seed, data_key, augmentation, device,
         amp, path) -> str:
    fields = {
        "layout": LAYOUT_VERSION,
        "backbone": model.config.backbone,
        "weights": weights,
        "data": [data_key, array_fingerprint(train_images, val_images)],
        "seed": seed,
        "augmentation": dataclasses.asdict(augmentation),
        "precision": _precision(device, amp),
        "path": path,
    }
    h = hashlib.sha256()
    h.update(json.dumps(fields, sort_keys=True).encode())
    return f"{model.config.backbone}-{h.hexdigest()[:16]}"


def _plain_path(cache_dir: str | Path | None, model: AllClassifier, weights: str,
                images: np.ndarray, device: torch.device, amp: bool | str,
                runtime: Runtime) -> Path | None:
    """Where the plain features of ``images`` through ``runtime`` are kept."""
    if cache_dir is None:
        return None
    h = hashlib.sha256(json.dumps({
        "layout": LAYOUT_VERSION, "backbone": model.config.backbone, "weights": weights,
        "images": array_fingerprint(images), "precision": _precision(device, amp),
        "path": runtime.path.key_name,
    }, sort_keys=True).encode())
    return Path(cache_dir) / "features" / "plain" / f"{model.config.backbone}-{h.hexdigest()[:16]}.npy"


def plain_features(
    model: AllClassifier,
    images: np.ndarray,
    device: torch.device,
    *,
    cache_dir: str | Path | None = None,
    features: str = "auto",
    amp: bool | str = True,
    batch_size: int = 0,
    cancel: threading.Event | None = None,
    on_batch: Callable[[int], None] | None = None,
    precision: str = "fp32",
) -> tuple[np.ndarray, str]:
    """Features (N, C) of unaugmented ``images`` (a test set, a validation
    part) through the same path as the training features, and that path's
    description; kept under ``cache_dir`` (the same for every run with this
    backbone). ``on_batch(n)`` counts images, cached ones included."""
    model.to(device)
    weights = weights_fingerprint(model)
    # A reduced precision was checked (and int8 calibrated) on the training images
    # when their features were made; the kept model and its record are reused here.
    runtime = feature_runtime(model, images, device, choice=features, amp=amp,
                              cache_dir=cache_dir, weights=weights, precision=precision)
    path = _plain_path(cache_dir, model, weights, images, device, amp, runtime)
    arr = _stored(path, (len(images), model.num_features), on_batch or (lambda n: None),
                  lambda: extract(model, images, device, batch_size=batch_size, amp=amp,
                                  cancel=cancel, runtime=runtime, on_batch=on_batch))
    return np.array(arr), runtime.path.description  # a writable copy, not the cache's map
