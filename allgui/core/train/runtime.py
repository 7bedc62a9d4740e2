"""What runs the frozen backbone for cached features on a CPU: OpenVINO where
installed (the ``openvino`` extra), onnxruntime otherwise; torch on a GPU
(and wherever neither can be used).

On a CPU these engines run the convolutional backbones two to three times
faster than eager torch (fused operators, their own thread pools). The
backbone alone (normalised float NCHW images in, pooled features out; no
head) is exported once per weights and image size and kept in the project's
cache (``cache/backbones/``); before use its fp32 features on a few of the
images are compared with torch's, and a file that does not reproduce them is
not used: the features are then computed with torch and a notice says why.

``precision`` 'bf16' (where the CPU has it natively) and 'int8' (NNCF,
calibrated on the project's training images) are OpenVINO's; before either
is used for a project its features are compared with fp32 on a sample of the
project's images (:mod:`allgui.core.train.fidelity`), and below the
threshold fp32 is used with a sentence saying why. The path's name (the
feature cache's key) and description say the engine and precision, and the
description the fidelity.

Augmentation stays in torch (:mod:`allgui.core.train.augment`), so every
path sees exactly the same input tensors. ``choice`` 'auto' takes the best
engine installed; 'onnxruntime' or 'openvino' name one; 'torch' always takes
torch (a diagnosis, and the tests' reference).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from allgui.core.files.atomic import atomic_write_bytes
from allgui.core.machine import ort_quiet_options, physical_cores
from allgui.core.model.classifier import AllClassifier
from allgui.core.train import openvino_engine as ov_engine
from allgui.core.train.device import autocast, precision_used
from allgui.core.train.fidelity import Fidelity, FidelityThreshold, measure

CHOICES = ("auto", "torch", "onnxruntime", "openvino")
PRECISIONS = ov_engine.PRECISIONS
OPSET = 17
INPUT, OUTPUT = "images", "features"
LAYOUT = 1  # of the exported backbone file; part of its name


def array_fingerprint(*arrays: np.ndarray) -> str:
    """A short hash of arrays' shapes, dtypes and bytes."""
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.shape}{a.dtype}".encode())
        h.update(a.data.cast("B"))  # no copy: the images may be gigabytes
    return h.hexdigest()


@dataclass(frozen=True)
class FeatureTolerance:
    """|onnxruntime - torch| <= abs + rel * max|torch|, over the check images."""

    abs: float = 1e-5
    rel: float = 1e-3

    def allowed(self, reference: np.ndarray) -> float:
        return self.abs + self.rel * float(np.max(np.abs(reference), initial=0.0))


@dataclass(frozen=True)
class FeaturePath:
    """How features were computed: ``name`` 'onnxruntime' or 'torch';
    ``description`` as printed ('onnxruntime (CPU, 2 threads)'); ``notice``
    says why the preferred path was not taken (empty when it was)."""

    name: str  # 'torch', 'onnxruntime', 'openvino' or 'openvino-int8' (the cache key's)
    description: str
    max_diff: float | None = None  # the engine's fp32 vs torch on the check images
    notice: str = ""
    precision: str = "fp32"
    fidelity: Fidelity | None = None  # against fp32, for a reduced precision
    recipe: str = ""  # how a reduced-precision model was made (int8: NNCF's settings)

    @property
    def key_name(self) -> str:
        """What the feature cache's key says of the path: the name, and the recipe."""
        return f"{self.name}:{self.recipe}" if self.recipe else self.name


class _Pooled(nn.Module):
    """The exported graph: the backbone's pooled features of normalised images."""

    def __init__(self, model: AllClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.pool(self.model.forward_features(x))


class TorchBackbone:
    """Eager torch: bf16 (or fp16) autocast and channels_last on CUDA, fp32 on a CPU."""

    def __init__(self, model: AllClassifier, device: torch.device,
                 amp: bool | str = True) -> None:
        self.model, self.device = model, device
        self.cuda = device.type == "cuda"
        self.amp = amp
        if self.cuda:
            model.backbone.to(memory_format=torch.channels_last)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features (N, C) float32, on the device."""
        if self.cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), autocast(self.device, self.amp):
            return self.model.pool(self.model.forward_features(x)).float()


class OrtBackbone:
    """An onnxruntime session on the CPU over the exported backbone."""

    def __init__(self, session: Any, threads: int) -> None:
        self.session, self.threads = session, threads
        self._lock = threading.Lock()  # one run at a time: the pool has all the cores

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        feed = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        with self._lock:
            (out,) = self.session.run([OUTPUT], {INPUT: feed})
        return torch.from_numpy(out)


@dataclass(frozen=True)
class Runtime:
    """The backbone runner chosen for a model and device, and its path."""

    run: TorchBackbone | OrtBackbone | ov_engine.OvBackbone
    path: FeaturePath


def torch_description(device: torch.device, amp: bool | str = True) -> str:
    if device.type == "cuda":
        return f"torch (CUDA, {precision_used(device, amp)}, channels_last)"
    return f"torch (CPU, {_threads(torch.get_num_threads())})"


def _threads(n: int) -> str:
    return "1 thread" if n == 1 else f"{n} threads"


def export_backbone(model: AllClassifier, size: int) -> bytes:
    """The backbone (no head) as ONNX: float (batch, 3, size, size) normalised
    images in, pooled features (batch, C) out."""
    graph = _Pooled(model).eval()
    buffer = io.BytesIO()
    dummy = torch.zeros(2, 3, size, size, dtype=torch.float32)
    was = next(model.backbone.parameters()).device
    model.backbone.to("cpu")
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
            torch.onnx.export(graph, (dummy,), cast(Any, buffer), dynamo=False,
                              input_names=[INPUT], output_names=[OUTPUT],
                              dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}},
                              opset_version=OPSET, do_constant_folding=True)
    finally:
        model.backbone.to(was)
    return buffer.getvalue()


def _session(model_bytes: bytes, threads: int) -> Any:
    import onnxruntime as ort

    options = ort_quiet_options(ort.SessionOptions(), threads)  # no spinning beside torch
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model_bytes, sess_options=options,
                                providers=["CPUExecutionProvider"])


def backbone_file(cache_dir: str | Path, model: AllClassifier, size: int, weights: str) -> Path:
    """Where the exported backbone of these weights at this size is kept."""
    h = hashlib.sha256(repr((LAYOUT, OPSET, torch.__version__, size, weights)).encode())
    return Path(cache_dir) / "backbones" / f"{model.config.backbone}-{h.hexdigest()[:16]}.onnx"


# A few sessions kept in memory: a search's backbone and a validation's runs
# reuse theirs instead of loading and checking the file again.
_SESSIONS: OrderedDict[tuple, Runtime] = OrderedDict()
_KEEP = 2
_GUARD = threading.Lock()


def choose_runtime(
    model: AllClassifier,
    device: torch.device,
    check_images: torch.Tensor,
    *,
    weights: str,
    choice: str = "auto",
    amp: bool | str = True,
    cache_dir: str | Path | None = None,
    tolerance: FeatureTolerance = FeatureTolerance(),  # noqa: B008 - frozen
    model_file: Path | None = None,
    precision: str = "fp32",
    sample: torch.Tensor | None = None,
    labels: np.ndarray | None = None,
    calibration: torch.Tensor | None = None,
    threshold: FidelityThreshold = FidelityThreshold(),  # noqa: B008 - frozen
) -> Runtime:
    """The backbone runner for ``model`` on ``device``. ``check_images`` are
    a few normalised model inputs (N, 3, S, S) on which the engine's fp32 must
    give torch's features; ``weights`` is the backbone's weights fingerprint.
    ``model_file`` overrides where the exported file is read and kept. A
    reduced ``precision`` is checked on ``sample`` (the project's images,
    ``labels`` theirs) and int8 calibrated on ``calibration``."""
    if choice not in CHOICES:
        raise ValueError(f"unknown feature path {choice!r}; choose one of {', '.join(CHOICES)}")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    torch_path = Runtime(TorchBackbone(model, device, amp),
                         FeaturePath("torch", torch_description(device, amp)))
    if choice == "torch" or device.type != "cpu":
        return torch_path
    engine, why_not = _engine(choice)
    size = int(check_images.shape[-1])
    threads = physical_cores()
    path = model_file
    if path is None and cache_dir is not None:
        path = backbone_file(cache_dir, model, size, weights)
    memo = (weights, size, threads, str(path), tolerance, engine, precision, threshold)
    with _GUARD:
        if memo in _SESSIONS:
            _SESSIONS.move_to_end(memo)
            return _SESSIONS[memo]
    try:
        data = _read_or_export(model, size, path)
        runner: OrtBackbone | ov_engine.OvBackbone = (
            ov_engine.compile_model(ov_engine.read_onnx(data), threads, "fp32")
            if engine == "openvino" else OrtBackbone(_session(data, threads), threads))
    except Exception as exc:  # any failure to export or load: the next engine does the work
        if engine == "openvino":
            return _noted(choose_runtime(model, device, check_images, weights=weights,
                                         choice="onnxruntime", amp=amp, cache_dir=cache_dir,
                                         tolerance=tolerance, model_file=model_file),
                          f"OpenVINO could not run the backbone ({type(exc).__name__}: "
                          f"{str(exc)[:200]}); onnxruntime computes the features in fp32.")
        return _fallback(torch_path, f"the backbone could not be run by onnxruntime "
                                     f"({type(exc).__name__}: {str(exc)[:200]})")
    with torch.inference_mode():
        expected = _Pooled(model).eval()(check_images.to(device)).float().cpu().numpy()
    got = runner(check_images).numpy()
    diff = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("inf")
    allowed = tolerance.allowed(expected)
    if not diff <= allowed:
        return _fallback(torch_path, f"its ONNX export gives other features than torch "
                                     f"(differences up to {diff:.2g}, allowed {allowed:.2g})",
                         diff)
    label = "OpenVINO" if engine == "openvino" else "onnxruntime"
    runtime = Runtime(runner, FeaturePath(engine, f"{label} (CPU, {_threads(threads)}, fp32)",
                                          max_diff=diff, notice=why_not))
    if precision != "fp32":
        refused = (ov_engine.refusal(precision) if engine == "openvino" else
                   f"{precision} is OpenVINO's and onnxruntime computes the features")
        if refused:
            runtime = _noted(runtime, f"Features in fp32: {refused}.")
        else:
            runtime = _reduced(runtime, data, precision, threads, path, sample, labels,
                               calibration if calibration is not None else sample, threshold)
    with _GUARD:
        _SESSIONS[memo] = runtime
        while len(_SESSIONS) > _KEEP:
            _SESSIONS.popitem(last=False)
    return runtime


def _engine(choice: str) -> tuple[str, str]:
    """The CPU engine for ``choice``, and a sentence when it is not the one asked for."""
    if choice in ("auto", "openvino") and ov_engine.installed():
        return "openvino", ""
    if choice == "openvino":
        return "onnxruntime", ("OpenVINO is not installed (pip install allgui[openvino]); "
                               "onnxruntime computes the features.")
    return "onnxruntime", ""


def _reduced(fp32: Runtime, data: bytes, precision: str, threads: int, path: Path | None,
             sample: torch.Tensor | None, labels: np.ndarray | None,
             calibration: torch.Tensor | None, threshold: FidelityThreshold) -> Runtime:
    """OpenVINO at ``precision`` when its features on ``sample`` stay faithful to
    fp32's; ``fp32`` with a sentence otherwise."""
    if sample is None or calibration is None or len(sample) == 0:
        return _noted(fp32, f"Features in fp32: {precision} is checked on the project's "
                            "images, and none were given.")
    stem = path.with_suffix("") if path is not None else None
    recipe = ov_engine.int8_recipe() if precision == "int8" else ""
    made = f"{precision}-{recipe}" if recipe else precision  # an older recipe's files are not read
    int8_file = stem.with_name(f"{stem.name}-{made}.xml") if stem is not None else None
    record_file = (stem.with_name(f"{stem.name}-{made}.fidelity.json")
                   if stem is not None else None)
    try:
        if precision == "int8":
            model = ov_engine.quantized(data, calibration.numpy(), int8_file)
        else:
            model = ov_engine.read_onnx(data)
        runner = ov_engine.compile_model(model, threads, precision)
    except Exception as exc:  # NNCF or OpenVINO failed: fp32 does the work
        return _noted(fp32, f"Features in fp32: OpenVINO could not make the {precision} model "
                            f"({type(exc).__name__}: {str(exc)[:200]}).")

    images = array_fingerprint(sample.numpy(), np.asarray(labels if labels is not None else []))
    kept = ov_engine.read_fidelity(record_file)
    if kept is not None and kept.get("sample") == images:
        fidelity = Fidelity.from_dict(kept["fidelity"])
    else:
        with torch.inference_mode():
            fidelity = measure(fp32.run(sample).numpy(), runner(sample).numpy(), labels)
        ov_engine.keep_fidelity(record_file, {"sample": images, "fidelity": fidelity.to_dict()})
    if not fidelity.passes(threshold):
        return _noted(fp32, (
            f"{precision} was refused for this project: its features disagree with fp32's on "
            f"{fidelity.images} of the project's images ({fidelity.words()}; needed cosine "
            f"{threshold.cosine_mean} or more, worst {threshold.cosine_min} or more, agreement "
            f"{threshold.agreement:.2f} or more). Features are computed in fp32."))
    how = (f"int8 calibrated by NNCF on {len(calibration)} of the project's images"
           if precision == "int8" else precision)
    return Runtime(runner, FeaturePath(
        f"openvino-{precision}",
        f"OpenVINO (CPU, {_threads(threads)}, {how}; fidelity against fp32: {fidelity.words()})",
        max_diff=fp32.path.max_diff, precision=precision, fidelity=fidelity, recipe=recipe))


def _noted(runtime: Runtime, sentence: str) -> Runtime:
    notice = " ".join(filter(None, (runtime.path.notice, sentence)))
    return Runtime(runtime.run, dataclasses.replace(runtime.path, notice=notice))


def _read_or_export(model: AllClassifier, size: int, path: Path | None) -> bytes:
    if path is not None and path.is_file():
        return path.read_bytes()
    data = export_backbone(model, size)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
    return data


def _fallback(torch_path: Runtime, why: str, diff: float | None = None) -> Runtime:
    notice = (f"Backbone features are computed with torch: {why}. The results are the "
              f"same; only slower on this CPU.")
    return Runtime(torch_path.run, FeaturePath("torch", torch_path.path.description,
                                               max_diff=diff, notice=notice))


def forget_sessions() -> None:
    """Drop the kept sessions (tests, and a cache folder emptied by hand)."""
    with _GUARD:
        _SESSIONS.clear()
