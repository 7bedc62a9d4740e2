"""Turning a trained model into one ONNX file that carries everything needed
to use it, and proving that the file gives the trained model's answers.

The graph (:mod:`allgui.core.export.graph`) takes 8-bit RGB images as (batch,
size, size, 3), exactly what :func:`allgui.core.dataset.imaging.prepare_image`
returns, and does the float conversion and the backbone's normalisation
itself, so preprocessing cannot drift between training and classification. It
returns four outputs:

- ``logits`` and ``probabilities`` (batch, classes);
- ``cam`` (batch, classes, h, w): Grad-CAM for every class, in closed form;
- ``features`` (batch, K): the pooled feature map, which ``evaluate``
  compares with the training images' (recorded in the metadata) to say when
  new images are unlike anything the model learnt from.

Before anything is written the file passes ``onnx.checker.check_model`` and
onnxruntime's outputs on a set of images are compared with torch's (logits,
probabilities, and the CAM against torch autograd Grad-CAM) within
:class:`~allgui.core.export.check.Tolerance` (:mod:`allgui.core.export.check`);
otherwise the export fails and nothing is written. The file is written
atomically. The legacy TorchScript exporter (``dynamo=False``) is used: it
handles every timm CNN here in seconds and gives a plain graph.
"""

from __future__ import annotations

import io
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch

from allgui import RESEARCH_NOTICE, __version__
from allgui.core.errors import AllguiError
from allgui.core.events import Progress, Sink, job, null_sink, seconds_words, ticking
from allgui.core.export.check import Tolerance, check_images, compare_with_torch
from allgui.core.export.graph import ExportGraph, torch_reference
from allgui.core.export.metadata import (
    DEFAULT_MARGIN,
    EXPORTER,
    ExportMetadata,
    file_card,
    file_values,
)
from allgui.core.export.training_record import training_fingerprint
from allgui.core.files.atomic import atomic_write_bytes
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
from allgui.core.model.classifier import AllClassifier

__all__ = ["DEFAULT_MARGIN", "EXPORTER", "ExportGraph", "ExportMetadata", "ExportResult",
           "Tolerance", "check_images", "export_onnx", "torch_reference"]

JOB = "export"
OPSET = 17
DEFAULT_TOLERANCE = Tolerance()


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


def _load(model_or_checkpoint: AllClassifier | str | os.PathLike):
    if isinstance(model_or_checkpoint, AllClassifier):
        return model_or_checkpoint, None
    from allgui.core.model.checkpoint import load_checkpoint

    return load_checkpoint(Path(model_or_checkpoint))


def export_onnx(
    model_or_checkpoint: AllClassifier | str | os.PathLike,
    out_path: str | os.PathLike,
    metadata: ExportMetadata | None = None,
    sample_images: Sequence[Any] | None = None,
    *,
    input_size: int | None = None,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
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


def _step(sink, done: int, words: str):
    """Export's step ``done`` of 3, said every few seconds while its one call runs."""
    return ticking(lambda seconds: sink(Progress(JOB, "export", done, 3,
                                                 seconds_words(words, seconds))))


def _export(model_or_checkpoint, out_path, metadata, sample_images, input_size, tolerance,
            sink) -> ExportResult:
    import onnx

    started = time.perf_counter()
    source = "" if isinstance(model_or_checkpoint, AllClassifier) else str(model_or_checkpoint)
    model, ckpt = _load(model_or_checkpoint)
    model.eval()
    size = int(input_size or (ckpt.image_size if ckpt is not None else model.input_size[-1]))
    card = file_card(metadata, model, ckpt, size)
    meta = metadata or ExportMetadata()
    graph = ExportGraph(model, size).eval()

    # 1. torch -> ONNX, in memory
    buffer = io.BytesIO()
    dummy = torch.zeros(2, size, size, 3, dtype=torch.uint8)
    outputs = [OUTPUT_LOGITS, OUTPUT_PROBABILITIES, OUTPUT_CAM, OUTPUT_FEATURES]
    try:
        with _step(sink, 0, "converting to ONNX"), torch.inference_mode(), \
                warnings.catch_warnings():
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

    with _step(sink, 0, "writing the model's card into the file"):  # part of 20 s unsaid
        values = file_values(card, meta, model, graph.map_size, source, training, OPSET)
        onnx.helper.set_model_props(proto, encode_metadata(values))
        proto.producer_name = "allgui"
        proto.producer_version = __version__
        proto.doc_string = f"allgui ALL classifier ({', '.join(card.classes)}). {RESEARCH_NOTICE}"
    try:
        with _step(sink, 0, "checking the ONNX file"):
            onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:
        raise AllguiError(
            "The exported model failed the ONNX checker; nothing was written.", str(exc)
        ) from exc
    data = proto.SerializeToString()

    # 2. onnxruntime must give torch's answers (and autograd's Grad-CAM)
    with _step(sink, 1, "checking onnxruntime against torch"):
        images = check_images(sample_images, size)
        diff = compare_with_torch(data, model, images, tolerance)

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
        max_diff_logits=diff.logits,
        max_diff_probabilities=diff.probabilities,
        max_diff_cam=diff.cam,
        tolerance=tolerance,
        exporter=EXPORTER,
        opset=OPSET,
        size_bytes=len(data),
        seconds=time.perf_counter() - started,
    )
