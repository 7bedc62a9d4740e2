"""Choosing where a model runs: the GPU when onnxruntime's CUDA provider
really works on this machine, the CPU otherwise; on the CPU, OpenVINO when
it is installed and chosen (:mod:`allgui.core.infer.openvino_session`),
onnxruntime otherwise.

onnxruntime lists CUDAExecutionProvider whenever the GPU build is installed,
even where the CUDA libraries or the driver are missing, and then silently
runs on the CPU. So the choice is checked: the session must report CUDA as
in use and answer one probe batch, or the model is reopened on the CPU.
:attr:`ModelSession.providers` says what is actually in use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from allgui.core.errors import ModelFileError
from allgui.core.files.text import terminal_text
from allgui.core.infer.limits import BoundedRunner, check_model_file
from allgui.core.infer.model_file import (
    INPUT_NAME,
    OUTPUT_PROBABILITIES,
    ModelInfo,
    check_graph,
    info_from_metadata,
    metadata_of,
)
from allgui.core.infer.openvino_session import (
    AGREEMENT,
    ENGINES,
    disagreement,
    open_openvino,
)
from allgui.core.infer.openvino_session import installed as openvino_installed
from allgui.core.machine import ort_quiet_options, physical_cores

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
DEVICES = ("auto", "cpu", "gpu")


@dataclass(frozen=True)
class ModelSession:
    """An open model: the onnxruntime session, its metadata, and where it runs."""

    session: Any  # onnxruntime.InferenceSession
    info: ModelInfo
    providers: tuple[str, ...]  # in use, in onnxruntime's order of preference
    note: str = ""  # why the GPU (or the engine chosen) is not used
    engine: str = "onnxruntime"  # what runs it: 'onnxruntime' or 'openvino'

    @property
    def on_gpu(self) -> bool:
        return bool(self.providers) and self.providers[0] == CUDA


def available_providers() -> tuple[str, ...]:
    return tuple(ort.get_available_providers())


def _options(threads: int | None, quiet: bool) -> ort.SessionOptions:
    # Threads as the physical cores unless told, and no spinning pool: the window's
    # own thread, a second model or torch may want the cores between runs.
    opts = ort_quiet_options(ort.SessionOptions(), int(threads or physical_cores()))
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if quiet:
        opts.log_severity_level = 3  # a failed CUDA attempt is reported by us, in words
    return opts


def _create(path: str, providers: list[str], threads: int | None, quiet: bool):
    # From the path, not from bytes: onnxruntime then finds a model's data
    # files beside it (not in the current folder), and the file is read once.
    try:
        source: str | bytes = path
        if not _encodable(path):  # a name that is not UTF-8: onnxruntime takes its bytes only
            source = Path(path).read_bytes()  # size checked first
        return ort.InferenceSession(
            source, sess_options=_options(threads, quiet), providers=providers
        )
    except Exception as exc:  # onnxruntime's own exception types
        raise ModelFileError(
            f"{terminal_text(Path(path).name)} is not an ONNX model, or it is damaged.",
            details=f"onnxruntime: {exc}",
        ) from exc


def _encodable(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _probe(session: Any, info: ModelInfo) -> None:
    blank = np.zeros((1, info.input_size, info.input_size, 3), dtype=np.uint8)
    BoundedRunner(session, Path(info.path).name).run(None, {INPUT_NAME: blank})


def open_session(
    path: str | os.PathLike, device: str = "auto", threads: int | None = None,
    engine: str = "onnxruntime",
) -> ModelSession:
    """Open and check an allgui ONNX model.

    ``device``: 'auto' (GPU when it works, else CPU), 'cpu', or 'gpu' (as
    'auto', but the note says so when the GPU could not be used).
    ``engine``: what runs it on the CPU, 'onnxruntime' or 'openvino' (when
    installed and its answers agree with onnxruntime's; else onnxruntime,
    with a note). Raises ModelFileError when the file is missing, not ONNX,
    or not a usable allgui model.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}")
    path = str(path)
    locations = check_model_file(path)  # before opening: no FIFO, no 3 GB read, no ../ data

    want_gpu = device != "cpu" and CUDA in available_providers()
    note = ""
    if device == "gpu" and not want_gpu:
        note = "no GPU support in this onnxruntime; running on the CPU"

    session = _create(path, [CUDA, CPU] if want_gpu else [CPU], threads, quiet=want_gpu)
    if locations is None:  # onnxruntime read what is not protobuf to us: trust neither
        raise ModelFileError(f"{terminal_text(Path(path).name)} is damaged.",
                             details="the file is not a well-formed protobuf message")
    info = info_from_metadata(path, metadata_of(session, path))
    check_graph(info, session.get_inputs(), session.get_outputs())

    if want_gpu:
        in_use = session.get_providers()
        try:
            if not in_use or in_use[0] != CUDA:
                raise RuntimeError("onnxruntime fell back to the CPU (CUDA libraries missing?)")
            _probe(session, info)
        except Exception as exc:
            note = f"the GPU could not be used ({exc}); running on the CPU"
            session = _create(path, [CPU], threads, quiet=False)
    if engine == "openvino":
        if session.get_providers()[0] == CUDA:
            note = "on the GPU with onnxruntime (OpenVINO is for the CPU)"
        else:
            chosen, why = _openvino(path, session, info, threads)
            if chosen is not None:
                return ModelSession(chosen, info, tuple(chosen.get_providers()), note, "openvino")
            note = "; ".join(filter(None, (note, why)))
    return ModelSession(session, info, tuple(session.get_providers()), note)


def _openvino(path: str, checked: Any, info: ModelInfo, threads: int | None
              ) -> tuple[Any, str]:
    """OpenVINO's session for ``path`` when it gives onnxruntime's answers,
    else None and why not (in words)."""
    if not openvino_installed():
        return None, "OpenVINO is not installed (pip install allgui[openvino]); onnxruntime runs it"
    try:
        chosen = open_openvino(path, checked, int(threads or physical_cores()))
        diff = disagreement(chosen, checked, {INPUT_NAME: _probe_images(info.input_size)},
                            OUTPUT_PROBABILITIES)
    except Exception as exc:  # OpenVINO could not read or run it: onnxruntime does
        return None, (f"OpenVINO could not run this model ({type(exc).__name__}: "
                      f"{terminal_text(str(exc)[:200])}); onnxruntime runs it")
    if not diff <= AGREEMENT:
        return None, (f"OpenVINO's probabilities differ from onnxruntime's by {diff:.1e} "
                      f"(allowed {AGREEMENT:g}); onnxruntime runs it")
    return chosen, ""


def _probe_images(size: int) -> np.ndarray:
    """Two fixed images for the engines' agreement: noise, and a dark disc on grey."""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:size, :size]
    cell = np.full((size, size, 3), 200, dtype=np.uint8)
    cell[((yy - size / 2) ** 2 + (xx - size / 2) ** 2) < (size / 3) ** 2] = (90, 40, 120)
    return np.stack([noise, cell])


def read_model_info(path: str | os.PathLike) -> ModelInfo:
    """Open ``path`` just far enough to read and check its metadata (beside
    :func:`open_session`, which does it).

    Raises ModelFileError for a missing file, a file that is not ONNX, an ONNX
    model without allgui's metadata, or one whose graph disagrees with it.
    """
    return open_session(path, device="cpu").info
