"""How closely the exported file must give the trained model's answers, the
images it is checked on, and the check itself (onnxruntime against torch)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from allgui.core.dataset.imaging import prepare_image, resize_area
from allgui.core.errors import AllguiError
from allgui.core.export.graph import torch_reference
from allgui.core.infer.model_file import INPUT_NAME, OUTPUT_CAM, OUTPUT_LOGITS, OUTPUT_PROBABILITIES
from allgui.core.model.classifier import AllClassifier


@dataclass(frozen=True)
class Tolerance:
    """How closely onnxruntime must reproduce torch for the export to pass.

    logits: |onnx - torch| <= logits_abs + logits_rel * |torch|;
    probabilities: |onnx - torch| <= probabilities;
    cam: |onnx - torch| <= cam * (the largest |alpha_k A_k| sum of that map),
    i.e. relative to the size of the terms the CAM is summed from.
    """

    logits_abs: float = 1e-3
    logits_rel: float = 1e-3
    probabilities: float = 1e-4
    cam: float = 1e-4

    def describe(self) -> str:
        return (
            f"logits {self.logits_abs:g} + {self.logits_rel:g}*|logit|, probabilities "
            f"{self.probabilities:g}, Grad-CAM {self.cam:g} relative"
        )


@dataclass(frozen=True)
class Differences:
    """The largest differences found between onnxruntime and torch."""

    logits: float
    probabilities: float
    cam: float  # relative, as Tolerance.cam


def check_images(samples: Sequence[Any] | None, size: int, count: int = 4) -> np.ndarray:
    """The images the export is checked on: the caller's (paths or uint8 arrays),
    topped up with fixed synthetic ones (noise, a dark cell-like disc) to ``count``."""
    images = []
    for item in samples or ():
        if isinstance(item, (str, os.PathLike)):
            images.append(prepare_image(item, size))
        else:
            from PIL import Image

            arr = np.asarray(item, dtype=np.uint8)
            images.append(resize_area(Image.fromarray(arr, "RGB"), size))
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    disc = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2) < (size / 3) ** 2
    while len(images) < count:
        if len(images) % 2 == 0:
            images.append(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
        else:
            cell = np.zeros((size, size, 3), dtype=np.uint8)
            cell[disc] = rng.integers(60, 200, 3, dtype=np.uint8)
            images.append(cell)
    return np.stack(images)


def compare_with_torch(data: bytes, model: AllClassifier, images: np.ndarray,
                       tolerance: Tolerance) -> Differences:
    """onnxruntime's answers from the file ``data`` on ``images`` against the
    trained model's; raises AllguiError, naming what differs, beyond ``tolerance``."""
    import onnxruntime as ort

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    checked = [OUTPUT_LOGITS, OUTPUT_PROBABILITIES, OUTPUT_CAM]
    o_logits, o_probs, o_cam = session.run(checked, {INPUT_NAME: images})
    single = session.run(checked, {INPUT_NAME: images[:1]})  # the batch axis is dynamic
    t_logits, t_probs, t_cam, t_scale = torch_reference(model, images)
    diff_logits = np.abs(o_logits - t_logits)
    logits_ok = bool(
        np.all(diff_logits <= tolerance.logits_abs + tolerance.logits_rel * np.abs(t_logits))
    )
    d_probs = float(np.max(np.abs(o_probs - t_probs)))
    scale = np.maximum(t_scale, 1e-12)[:, :, None, None]
    d_cam = float(np.max(np.abs(o_cam - t_cam) / scale))
    d_single = float(np.max(np.abs(single[1] - o_probs[:1])))
    problems = []
    if not logits_ok:
        problems.append(f"logits differ by up to {float(diff_logits.max()):.2e}")
    if max(d_probs, d_single) > tolerance.probabilities:
        problems.append(f"probabilities differ by up to {max(d_probs, d_single):.2e}")
    if d_cam > tolerance.cam:
        problems.append(f"heatmaps differ by up to {d_cam:.2e} (relative)")
    if problems:
        raise AllguiError(
            "The exported model does not reproduce the trained model's answers; "
            "nothing was written.",
            "; ".join(problems) + f" (allowed: {tolerance.describe()})",
        )
    return Differences(float(diff_logits.max()), max(d_probs, d_single), d_cam)
