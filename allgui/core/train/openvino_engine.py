"""OpenVINO as the CPU feature engine (the optional ``openvino`` extra):
fp32, bf16 where the CPU computes it natively, and int8 calibrated by NNCF on
the project's own training images (never onnxruntime's plain QDQ, whose
features drifted far from fp32's on real smear images).

The backbone is the ONNX export :mod:`allgui.core.train.runtime` keeps; an
int8 model is kept beside it (``.xml``/``.bin``) with the fidelity it showed
(``.json``), so it is calibrated and checked once per weights, image size and
recipe (:func:`int8_recipe`: NNCF on OpenVINO's fused graph; on a CPU without
int8 dot products, depthwise convolutions in fp32 and the full bias correction).
Every compiled model has its precision stated (OpenVINO would otherwise pick
bf16 on its own on a CPU with AMX), threads as the physical cores and no
pinning (the cores are shared with torch and with other work).
"""

from __future__ import annotations

import importlib.util
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch

from allgui.core.files.atomic import atomic_write_text
from allgui.core.machine import cpu_flags, native_bf16

PRECISIONS = ("fp32", "bf16", "int8")
CALIBRATION_IMAGES = 128  # NNCF's statistics: of the project's training images
_HINT = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}  # int8: what stays float, in fp32


def installed() -> bool:
    return importlib.util.find_spec("openvino") is not None


def int8_installed() -> bool:
    return installed() and importlib.util.find_spec("nncf") is not None


def int8_dot_products() -> bool:
    """Whether the CPU sums int8 products in 32 bits (VNNI or AMX)."""
    return bool(cpu_flags() & {"avx512_vnni", "avx_vnni", "amx_int8"})


def version() -> str:
    import openvino

    return str(openvino.get_version()).split("-")[0]


def refusal(precision: str) -> str:
    """Why ``precision`` cannot be had here ('' when it can)."""
    if precision == "fp32":
        return "" if installed() else "OpenVINO is not installed (pip install allgui[openvino])"
    if not installed():
        return (f"{precision} needs OpenVINO, which is not installed "
                "(pip install allgui[openvino])")
    if precision == "bf16" and not native_bf16():
        return ("bf16 needs a CPU that computes it natively (AVX-512 BF16 or AMX); this one "
                "would emulate it, slower than fp32")
    if precision == "int8" and not int8_installed():
        return "int8 needs NNCF for its calibration, which is not installed"
    return ""


class OvBackbone:
    """A compiled OpenVINO model: normalised NCHW images in, pooled features out."""

    def __init__(self, compiled: Any, threads: int, precision: str) -> None:
        self.compiled, self.threads, self.precision = compiled, threads, precision
        self.request = compiled.create_infer_request()
        self._lock = threading.Lock()  # one run at a time: the pool has all the cores

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        feed = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        with self._lock:
            out = self.request.infer({0: feed})
            return torch.from_numpy(np.array(out[0], dtype=np.float32, copy=True))


def read_onnx(onnx_bytes: bytes) -> Any:
    import openvino as ov

    return ov.Core().read_model(onnx_bytes, b"")


def compile_model(model: Any, threads: int, precision: str) -> OvBackbone:
    import openvino as ov

    compiled = ov.Core().compile_model(model, "CPU", {
        "INFERENCE_PRECISION_HINT": _HINT[precision],
        "INFERENCE_NUM_THREADS": int(threads),
        "PERFORMANCE_HINT": "LATENCY",
        "ENABLE_CPU_PINNING": False,
    })
    return OvBackbone(compiled, threads, precision)


# What decides an int8 model besides the weights, the size and the calibration
# images: part of its file's name and of the features' cache key, so a model
# calibrated by an older recipe is made again, never reused.
INT8_RECIPE = "nncf-fused-2"


def int8_recipe() -> str:
    """The recipe's name on this CPU (depthwise convolutions differ by CPU)."""
    return INT8_RECIPE + ("" if int8_dot_products() else "-dwfp32-bc")


def prepared(onnx_bytes: bytes) -> Any:
    """The ONNX backbone as OpenVINO's model with its fusions made (x * sigmoid(x)
    into one Swish, batch norms and biases into the convolutions).

    NNCF must quantize this graph, not the one :func:`read_onnx` gives: there
    every SiLU is a Sigmoid and a Multiply, NNCF puts a FakeQuantize on both of
    the Multiply's inputs, and OpenVINO can then fuse neither the activation into
    its int8 convolution nor the Swish: EfficientNet-B2's 69 activations ran as
    separate f32 passes (1.75 s of a 4.8 s batch of 16 on an AVX2 CPU), and int8
    was 0.74x fp32. Fused first, B2's int8 ran as fast as fp32 there, and
    lite0's features (real weights, 256 real smear images) came to a cosine of
    0.990 with fp32's instead of 0.969.
    """
    import io

    import openvino as ov

    return ov.convert_model(io.BytesIO(onnx_bytes))


def quantized(onnx_bytes: bytes, calibration: np.ndarray, where: Path | None) -> Any:
    """The int8 model, calibrated by NNCF on ``calibration`` (normalised model
    inputs, N x 3 x S x S); read from ``where`` (an .xml) when kept there."""
    import openvino as ov

    if where is not None and where.is_file() and where.with_suffix(".bin").is_file():
        return ov.Core().read_model(str(where))
    import nncf
    from nncf.quantization.advanced_parameters import (
        AdvancedQuantizationParameters,
        OverflowFix,
    )

    items = [np.ascontiguousarray(calibration[i:i + 1], dtype=np.float32)
             for i in range(len(calibration))]
    # Without VNNI or AMX, int8 products are summed in 16 bits and saturate unless
    # the weights keep a bit in reserve: on an AVX2 CPU lite0's features fell to a
    # cosine of 0.59 with fp32's without it (real smear images).
    vnni = int8_dot_products()
    fix = OverflowFix.FIRST_LAYER if vnni else OverflowFix.ENABLE
    # There too, depthwise convolutions stay in fp32 (in int8 they were slower than
    # fp32's on an AVX2 CPU, B2: 517 against 432 ms a batch) and the biases get
    # NNCF's full correction for what the 7-bit weights lose: lite0's cosine with
    # fp32 went 0.990 -> 0.993 (depthwise fp32) -> 0.997, worst 0.993 (full
    # correction; 256 real smear images), its calibration 2-3x longer, once per
    # weights and image size.
    ignored = {} if vnni else {"ignored_scope": nncf.IgnoredScope(types=["GroupConvolution"])}
    model = nncf.quantize(prepared(onnx_bytes), nncf.Dataset(items), subset_size=len(items),
                          fast_bias_correction=vnni,
                          advanced_parameters=AdvancedQuantizationParameters(overflow_fix=fix),
                          **ignored)
    if where is not None:
        where.parent.mkdir(parents=True, exist_ok=True)
        tmp = where.with_name(where.stem + ".partial.xml")
        ov.save_model(model, str(tmp), compress_to_fp16=False)
        tmp.with_suffix(".bin").replace(where.with_suffix(".bin"))
        tmp.replace(where)
    return model


def read_fidelity(where: Path | None) -> dict | None:
    if where is None or not where.is_file():
        return None
    try:
        return dict(json.loads(where.read_text()))
    except (OSError, ValueError):
        return None


def keep_fidelity(where: Path | None, record: dict) -> None:
    if where is not None:
        where.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(where, json.dumps(record, indent=1))
