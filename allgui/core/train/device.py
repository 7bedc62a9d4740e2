"""Where training runs, and how work is sized and typed there.

The GPU when there is one, else the CPU; on CUDA the backbone runs in bf16
autocast and channels_last. Kept apart from the loop so that the search, the
validation and the benchmarks choose the device the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from allgui.core.errors import AllguiError


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/'auto': the GPU when there is one, else the CPU."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise AllguiError("A GPU was asked for, but none is available; use the CPU ('cpu').")
    return dev


def backbone_batch(device: torch.device, requested: int = 0) -> int:
    """Images per frozen-backbone forward pass: ``requested`` when set, else
    16 on a CPU (larger batches spill its caches and run up to twice slower
    per image) and 256 on a GPU."""
    if requested > 0:
        return requested
    return 256 if device.type == "cuda" else 16


def autocast(device: torch.device, amp: bool = True) -> torch.autocast:
    """bf16 autocast on CUDA when ``amp``; a no-op elsewhere."""
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda" and amp)


@contextlib.contextmanager
def head_threads(device: torch.device, head_only: bool) -> Iterator[None]:
    """One torch thread while only a head trains on a CPU, the previous count
    after. A head's operations are far too small to share between threads:
    each one then waits on a barrier for the other threads, which on a busy
    machine (other jobs, onnxruntime's pool) costs tens of times the work."""
    if device.type != "cpu" or not head_only:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
