"""Classifying with OpenVINO instead of onnxruntime, when it is installed (the
``openvino`` extra) and chosen: the same exported file, in fp32.

onnxruntime still opens the file first and checks it (its metadata, its
graph); OpenVINO then compiles the same file for the CPU. The precision is
stated (fp32): left to itself OpenVINO computes in bf16 on a CPU with AMX,
and the probabilities would no longer be the model's. Before it is used its
answers on a probe batch are compared with onnxruntime's; beyond
:data:`AGREEMENT` the model stays on onnxruntime, with a sentence.

:class:`OpenVinoSession` answers the calls the classifier makes of an
onnxruntime session (``run``, ``get_inputs``, ``get_outputs``,
``get_providers``), so everything after opening is the same code; a run asked
to stop (``RunOptions.terminate``, set by
:class:`allgui.core.infer.limits.BoundedRunner`) is cancelled.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

import numpy as np

ENGINES = ("onnxruntime", "openvino")
PROVIDER = "OpenVINO CPU (fp32)"  # as shown beside onnxruntime's execution providers
AGREEMENT = 1e-4  # largest difference in probability allowed from onnxruntime's
_WAIT_MS = 100  # how often a run checks whether it was asked to stop


def installed() -> bool:
    return importlib.util.find_spec("openvino") is not None


def version() -> str:
    import openvino

    return str(openvino.get_version()).split("-")[0]


class OpenVinoSession:
    """A compiled OpenVINO model behind the calls made of an onnxruntime session."""

    def __init__(self, compiled: Any, checked: Any) -> None:
        self._compiled = compiled
        self._checked = checked  # the onnxruntime session that read and checked the file
        self._request = compiled.create_infer_request()
        self._index = {name: i for i, out in enumerate(compiled.outputs)
                       for name in out.get_names()}

    def get_inputs(self) -> list:
        return list(self._checked.get_inputs())

    def get_outputs(self) -> list:
        return list(self._checked.get_outputs())

    def get_modelmeta(self) -> Any:
        return self._checked.get_modelmeta()

    def get_providers(self) -> list[str]:
        return [PROVIDER]

    def run(self, outputs: Sequence[str] | None, feeds: dict, options: Any = None) -> list:
        """The named outputs (all when None) for ``feeds``, as onnxruntime gives them."""
        names = list(outputs) if outputs is not None else [o.name for o in self.get_outputs()]
        request = self._request
        request.start_async({k: np.ascontiguousarray(v) for k, v in feeds.items()})
        while not request.wait_for(_WAIT_MS):
            if options is not None and getattr(options, "terminate", False):
                request.cancel()
                raise RuntimeError("the run was stopped")
        return [np.array(request.get_output_tensor(self._index[n]).data, copy=True)
                for n in names]


def open_openvino(path: str, checked: Any, threads: int) -> OpenVinoSession:
    """The model at ``path`` (already read and checked by onnxruntime's
    ``checked`` session) compiled by OpenVINO for the CPU, in fp32."""
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(core.read_model(path), "CPU", {
        "INFERENCE_PRECISION_HINT": "f32",
        "INFERENCE_NUM_THREADS": int(threads),
        "PERFORMANCE_HINT": "LATENCY",
        "ENABLE_CPU_PINNING": False,  # the cores are shared with the window and other work
    })
    return OpenVinoSession(compiled, checked)


def disagreement(candidate: Any, reference: Any, feeds: dict, output: str) -> float:
    """The largest difference in ``output`` between two sessions on ``feeds``."""
    a = np.asarray(candidate.run([output], feeds)[0], dtype=np.float64)
    b = np.asarray(reference.run([output], feeds)[0], dtype=np.float64)
    if a.shape != b.shape or not np.all(np.isfinite(a)):
        return float("inf")
    return float(np.max(np.abs(a - b))) if a.size else 0.0
