"""Turning a trained model into one ONNX file that carries everything needed
to use it, and proving that the file gives the trained model's answers.

The graph takes 8-bit RGB images as (batch, size, size, 3), exactly what
:func:`allgui.core.dataset.imaging.prepare_image` returns, and does the float
conversion and the backbone's normalisation itself, so preprocessing cannot
drift between training and classification. It returns four outputs:

- ``logits`` and ``probabilities`` (batch, classes);
- ``cam`` (batch, classes, h, w): Grad-CAM for every class, in closed form.
  In eval mode the head is GAP -> fc1 -> ReLU -> fc2, so the gradient of
  logit c with respect to the pooled features is W1^T (relu_mask * W2[c]);
  each position of the feature map A (h x w) gets 1/(h*w) of it, so the
  Grad-CAM weights are alpha_c = W1^T (mask * W2[c]) / (h*w) and
  CAM_c = relu(sum_k alpha_ck A_k). No autograd is needed at classify time;
- ``features`` (batch, K): the pooled feature map, which ``evaluate``
  compares with the training images' (recorded in the metadata) to say when
  new images are unlike anything the model learnt from.

Before anything is written the file passes ``onnx.checker.check_model`` and
onnxruntime's outputs on a set of images are compared with torch's (logits,
probabilities, and the CAM against torch autograd Grad-CAM) within
:class:`Tolerance`; otherwise the export fails and nothing is written. The
file is written atomically. The legacy TorchScript exporter (``dynamo=False``)
is used: it handles every timm CNN here in seconds and gives a plain graph.
"""

from __future__ import annotations

import datetime as _dt
import io
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from allgui import RESEARCH_NOTICE, __version__
from allgui.core.dataset.imaging import prepare_image, resize_area
from allgui.core.errors import AllguiError
from allgui.core.events import Progress, Sink, job, null_sink
from allgui.core.export.training_record import training_fingerprint
from allgui.core.files.atomic import atomic_write_bytes
from allgui.core.infer.limits import check_margin, check_threshold
from allgui.core.infer.model_file import (
    INPUT_NAME,
    OUTPUT_CAM,
    OUTPUT_FEATURES,
    OUTPUT_LOGITS,
    OUTPUT_PROBABILITIES,
    ModelInfo,
    encode_metadata,
)
from allgui.core.infer.providers import read_model_info
from allgui.core.infer.training_data import METADATA_KEY as TRAINING_KEY
from allgui.core.model.card import ModelCard
from allgui.core.model.classifier import AllClassifier

JOB = "export"
OPSET = 17
DEFAULT_MARGIN = 0.2  # flagged uncertain below this when no margin was chosen on validation
EXPORTER = "torch.onnx TorchScript exporter (dynamo=False)"


@dataclass(frozen=True)
class ExportMetadata:
    """What the exported file says about the model, besides its size and normalisation.

    Fields left empty are taken from the checkpoint's model card when
    exporting one; the file carries that card with these over it.
    """

    classes: tuple[str, ...] = ()
    positive_class: str | None = None
    decision_threshold: float = 0.5
    # None: the margin chosen on validation (the checkpoint's card), else 0.2
    uncertain_margin: float | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    test_set: str = ""  # what the metrics were measured on, in words
    study: str = ""
    trial: int | None = None
    run: int | None = None
    source: str = ""  # the checkpoint, for the record
    selection: str = ""  # how this run was chosen among the batch's runs
    # each figure over the batch's runs: {key: {"mean", "ci_low", "ci_high", "runs"}}
    batch_metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    temperature: float | None = None  # calibration; None = the checkpoint's card (else 1)
    interval_note: str = ""  # how batch_metrics' test_low/test_high were made
    # the images the model saw: content hashes (train and validation), and
    # samples whose features make the out-of-distribution yardstick
    training_hashes: tuple[str, ...] = ()
    feature_images: tuple[tuple[str, int], ...] = ()  # (training image, class id)
    reference_images: tuple[str, ...] = ()  # held-out (validation) images

    def __post_init__(self) -> None:  # never a rule stored that reading the model refuses
        check_threshold(self.decision_threshold)
        if self.uncertain_margin is not None:
            check_margin(self.uncertain_margin)
        if self.temperature is not None and not 0 < self.temperature < float("inf"):
            raise AllguiError(f"The temperature must be a positive number, not {self.temperature}.")


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
class ExportResult:
    path: str
    info: ModelInfo  # the metadata as read back from the written file
    images_checked: int
    max_diff_logits: float
    max_diff_probabilities: float
    max_diff_cam: float  # relative, as Tolerance.cam
    tolerance: Tolerance
    exporter: str
    opset: int
    size_bytes: int
    seconds: float


class ExportGraph(nn.Module):
    """What goes into the ONNX file: uint8 NHWC images in; logits, probabilities
    and per-class Grad-CAM out."""

    def __init__(self, model: AllClassifier, input_size: int) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(model.mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(model.std, dtype=torch.float32).view(1, 3, 1, 1))
        with torch.inference_mode():
            probe = model.forward_features(torch.zeros(1, 3, input_size, input_size))
        if probe.ndim != 4:
            raise AllguiError(
                f"The backbone {model.config.backbone} gives no spatial feature map, "
                "so allgui cannot draw heatmaps for it; choose a convolutional backbone.",
            )
        self.map_size = (int(probe.shape[2]), int(probe.shape[3]))
        self.n_classes = int(model.config.n_classes)

    def normalise(self, image: torch.Tensor) -> torch.Tensor:
        x = image.permute(0, 3, 1, 2).to(torch.float32) / 255.0
        mean, std = cast(torch.Tensor, self.mean), cast(torch.Tensor, self.std)  # buffers
        return (x - mean) / std

    def forward(self, image: torch.Tensor):
        fmap = self.model.forward_features(self.normalise(image))  # N, K, h, w
        pooled = fmap.mean(dim=(2, 3))
        head = self.model.head
        pre = head.fc1(pooled)
        logits = head.fc2(torch.relu(pre))
        probabilities = torch.softmax(logits, dim=1)
        mask = (pre > 0).to(pre.dtype)  # N, hidden
        # d logit_c / d pooled = W1^T (mask * W2[c])  ->  N, classes, K
        grads = torch.matmul(head.fc2.weight.unsqueeze(0) * mask.unsqueeze(1), head.fc1.weight)
        h, w = self.map_size
        alpha = grads / float(h * w)
        cam = torch.matmul(alpha, fmap.flatten(2))  # N, classes, h*w
        cam = torch.relu(cam).reshape(-1, self.n_classes, h, w)
        return logits, probabilities, cam, pooled


def torch_reference(
    model: AllClassifier, images: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The trained model's own answers on uint8 NHWC ``images``: logits,
    probabilities, Grad-CAM per class by autograd (gradient of each logit
    with respect to the last feature map, averaged over positions), and the
    scale each CAM is summed at (max over positions of sum_k |alpha_k A_k|)."""
    from allgui.core.train.augment import model_input  # training's own preprocessing

    model.eval()
    x = model_input(np.ascontiguousarray(images), model.mean, model.std, "cpu")
    with torch.no_grad():
        fmap = model.forward_features(x)
    fmap = fmap.detach().requires_grad_(True)
    logits = model.forward_head(model.pool(fmap))
    cams, scales = [], []
    for c in range(logits.shape[1]):
        (grad,) = torch.autograd.grad(logits[:, c].sum(), fmap, retain_graph=True)
        alpha = grad.mean(dim=(2, 3), keepdim=True)  # N, K, 1, 1
        cams.append(torch.relu((alpha * fmap).sum(dim=1)))
        scales.append((alpha.abs() * fmap.abs()).sum(dim=1).amax(dim=(1, 2)))
    with torch.no_grad():
        probs = torch.softmax(logits, dim=1)
    return (
        logits.detach().numpy(),
        probs.numpy(),
        torch.stack(cams, dim=1).detach().numpy(),
        torch.stack(scales, dim=1).detach().numpy(),
    )


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


def _load(model_or_checkpoint: AllClassifier | str | os.PathLike):
    if isinstance(model_or_checkpoint, AllClassifier):
        return model_or_checkpoint, None
    from allgui.core.model.checkpoint import load_checkpoint

    return load_checkpoint(Path(model_or_checkpoint))


def _card(metadata: ExportMetadata | None, model: AllClassifier, ckpt: Any, size: int
          ) -> ModelCard:
    """The model card the file carries: the checkpoint's, with what ``metadata``
    says winning over it."""
    meta = metadata or ExportMetadata()
    base = ckpt.card if ckpt is not None else ModelCard()
    classes = meta.classes or base.classes or tuple(
        f"class_{i}" for i in range(model.config.n_classes))
    positive = meta.positive_class
    if positive is None and base.positive_class in classes:
        positive = base.positive_class
    said = {k: getattr(meta, k) for k in ("test_set", "study") if getattr(meta, k)}
    said.update({k: getattr(meta, k) for k in ("trial", "run") if getattr(meta, k) is not None})
    card = replace(base, classes=tuple(classes), positive_class=positive, input_size=size,
                   provenance=replace(base.provenance, **said),
                   metrics=dict(meta.metrics) or dict(base.metrics),
                   temperature=base.temperature if meta.temperature is None
                   else float(meta.temperature))
    if len(card.classes) != model.config.n_classes:
        raise AllguiError(
            f"{len(card.classes)} class names were given for a model with "
            f"{model.config.n_classes} classes."
        )
    if card.positive_class is not None and card.positive_class not in card.classes:
        raise AllguiError(f"The positive class '{card.positive_class}' is not one of the classes.")
    return card


def export_onnx(
    model_or_checkpoint: AllClassifier | str | os.PathLike,
    out_path: str | os.PathLike,
    metadata: ExportMetadata | None = None,
    sample_images: Sequence[Any] | None = None,
    *,
    input_size: int | None = None,
    tolerance: Tolerance = Tolerance(),
    sink: Sink = null_sink,
) -> ExportResult:
    """Export a trained model (or a checkpoint file) to ``out_path``.

    ``input_size`` defaults to the checkpoint's training image size (or the
    backbone's default for a bare model). ``sample_images`` (paths or uint8
    arrays) are used, with synthetic ones, for the torch-vs-onnxruntime check.
    Raises AllguiError, writing nothing, if the check fails.
    """
    with job(sink, JOB, f"Exporting the model to {out_path}", total=3) as j:
        result = _export(model_or_checkpoint, out_path, metadata, sample_images, input_size,
                         tolerance, sink)
        j.finish(f"Exported to {out_path}")
    return result


def _export(model_or_checkpoint, out_path, metadata, sample_images, input_size, tolerance,
            sink) -> ExportResult:
    import onnx
    import onnxruntime as ort

    started = time.perf_counter()
    source = "" if isinstance(model_or_checkpoint, AllClassifier) else str(model_or_checkpoint)
    model, ckpt = _load(model_or_checkpoint)
    model.eval()
    size = int(input_size or (ckpt.image_size if ckpt is not None else model.input_size[-1]))
    card = _card(metadata, model, ckpt, size)
    meta = metadata or ExportMetadata()
    graph = ExportGraph(model, size).eval()

    # 1. torch -> ONNX, in memory
    sink(Progress(JOB, "export", 0, 3, "converting to ONNX"))
    buffer = io.BytesIO()
    dummy = torch.zeros(2, size, size, 3, dtype=torch.uint8)
    outputs = [OUTPUT_LOGITS, OUTPUT_PROBABILITIES, OUTPUT_CAM, OUTPUT_FEATURES]
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            # the legacy exporter announces its deprecation; it is chosen on purpose
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                graph,
                (dummy,),
                cast(Any, buffer),  # a file object: the exporter writes to it
                dynamo=False,
                input_names=[INPUT_NAME],
                output_names=outputs,
                dynamic_axes={name: {0: "batch"} for name in [INPUT_NAME, *outputs]},
                opset_version=OPSET,
                do_constant_folding=True,
            )
    except Exception as exc:
        raise AllguiError(
            "The model could not be converted to ONNX; nothing was written.",
            f"{type(exc).__name__}: {exc}",
        ) from exc
    proto = onnx.load_from_string(buffer.getvalue())
    training = training_fingerprint(buffer.getvalue(), size, meta.training_hashes,
                                    meta.feature_images, meta.reference_images, sink)

    created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    values = {
        **card.to_dict(),
        "input_format": "uint8 RGB, batch x height x width x 3, resized with the area filter",
        "mean": list(model.mean),
        "std": list(model.std),
        "decision_threshold": meta.decision_threshold,
        "uncertain_margin": (meta.uncertain_margin if meta.uncertain_margin is not None
                             else card.uncertain_margin if card.uncertain_margin is not None
                             else DEFAULT_MARGIN),
        "heatmap": "Grad-CAM on the last feature map, closed form",
        "heatmap_size": list(graph.map_size),
        "backbone": model.config.backbone,
        "model_config": model.config.to_dict(),
        "source": meta.source or source,
        "selection": meta.selection,
        "batch_metrics": {k: dict(v) for k, v in meta.batch_metrics.items()},
        "interval_note": meta.interval_note,
        TRAINING_KEY: training.to_dict() if training is not None else None,
        "allgui_version": __version__,
        "created": created,
        "exporter": f"{EXPORTER}, torch {torch.__version__}, opset {OPSET}",
        "research_notice": RESEARCH_NOTICE,
    }
    onnx.helper.set_model_props(proto, encode_metadata(values))
    proto.producer_name = "allgui"
    proto.producer_version = __version__
    proto.doc_string = f"allgui ALL classifier ({', '.join(card.classes)}). {RESEARCH_NOTICE}"
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:
        raise AllguiError(
            "The exported model failed the ONNX checker; nothing was written.", str(exc)
        ) from exc
    data = proto.SerializeToString()

    # 2. onnxruntime must give torch's answers (and autograd's Grad-CAM)
    sink(Progress(JOB, "export", 1, 3, "checking onnxruntime against torch"))
    images = check_images(sample_images, size)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    checked = outputs[:3]
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

    # 3. write atomically and read back
    sink(Progress(JOB, "export", 2, 3, "writing"))
    try:
        atomic_write_bytes(out_path, data)
    except OSError as exc:
        raise AllguiError(f"Cannot write the model to {out_path}.", str(exc)) from exc
    info = read_model_info(out_path)
    sink(Progress(JOB, "export", 3, 3, "done"))
    return ExportResult(
        path=str(Path(out_path)),
        info=info,
        images_checked=int(images.shape[0]),
        max_diff_logits=float(diff_logits.max()),
        max_diff_probabilities=max(d_probs, d_single),
        max_diff_cam=d_cam,
        tolerance=tolerance,
        exporter=EXPORTER,
        opset=OPSET,
        size_bytes=len(data),
        seconds=time.perf_counter() - started,
    )
