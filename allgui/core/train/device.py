"""Where training runs, and how work is sized and typed there.

The GPU when there is one, else the CPU; on CUDA the backbone runs in bf16
autocast and channels_last. Kept apart from the loop so that the search, the
validation and the benchmarks choose the device the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from allgui.core.checks import DEVICE_WORDS, SettingError, check_device
from allgui.core.errors import AllguiError
from allgui.core.files.text import count


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/'auto': the GPU when there is one, else the CPU. Any other
    string is checked first: a name torch does not know, or a device this
    computer lacks, is refused in a sentence naming it."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, torch.device):
        check_device(str(device))
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise SettingError(f"The device {str(device)!r} is not one allgui knows; use "
                           f"{DEVICE_WORDS}.") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise AllguiError("A GPU was asked for, but none is available; use the CPU ('cpu').")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise SettingError(f"The device {str(device)!r} is not on this computer: it has "
                               f"{count(torch.cuda.device_count(), 'GPU')}, cuda:0 to "
                               f"cuda:{torch.cuda.device_count() - 1}.")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise AllguiError("The Apple GPU ('mps') was asked for, but it is not available here; "
                          "use the CPU ('cpu').")
    return dev


def backbone_batch(device: torch.device, requested: int = 0) -> int:
    """Images per frozen-backbone forward pass: ``requested`` when set, else
    16 on a CPU (larger batches spill its caches and run up to twice slower
    per image) and 256 on a GPU."""
    if requested > 0:
        return requested
    return 256 if device.type == "cuda" else 16


PRECISIONS = ("bf16", "fp16", "fp32")  # on a GPU; a CPU always computes in fp32


def precision_used(device: torch.device, amp: bool | str = True) -> str:
    """What ``amp`` means on ``device``: 'bf16' or 'fp16' autocast on CUDA,
    'fp32' elsewhere or when off. ``amp`` is a precision name, or True for
    bf16 (the flag it was before precision became a setting)."""
    if device.type != "cuda" or amp is False or amp == "fp32":
        return "fp32"
    return "fp16" if amp == "fp16" else "bf16"


def autocast(device: torch.device, amp: bool | str = True) -> torch.autocast:
    """bf16 (or fp16) autocast on CUDA; a no-op elsewhere (see :func:`precision_used`)."""
    used = precision_used(device, amp)
    return torch.autocast("cuda", dtype=torch.float16 if used == "fp16" else torch.bfloat16,
                          enabled=used != "fp32")


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
