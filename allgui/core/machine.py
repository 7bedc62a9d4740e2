"""What this machine's CPU offers the feature engines: its usable physical
cores, and which instruction sets it has (torch-free, Qt-free: training and
classification both size their thread pools from here).

A pool that spins (busy-waits for work between runs) holds its cores while
torch, or a second pool, wants them: on a machine whose cores are shared,
the two then take turns. Every onnxruntime session allgui opens therefore
has spinning off (:func:`ort_quiet_options`); its pool is as large as the
physical cores, since hyper-threads share one core's arithmetic units.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any


def physical_cores() -> int:
    """Physical CPU cores this process may use (hyper-threads share a core's
    arithmetic units, so a compute-bound pool gains nothing from them)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    cores: set[tuple[str, str]] = set()
    try:
        physical, core = "0", None
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "physical id":
                physical = value
            elif key == "core id":
                core = value
                cores.add((physical, core))
    except OSError:
        pass
    return max(1, min(usable, len(cores) or usable))


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux names them ('avx2', 'amx_bf16', ...);
    empty where /proc/cpuinfo cannot be read (then nothing is assumed)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "flags":
                return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def native_bf16(flags: frozenset[str] | None = None) -> bool:
    """Whether the CPU computes bf16 natively (AVX-512 BF16 or AMX): elsewhere
    bf16 is emulated, slower than fp32 and refused."""
    flags = cpu_flags() if flags is None else flags
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def ort_quiet_options(options: Any, threads: int) -> Any:
    """``options`` (an onnxruntime SessionOptions) with ``threads`` intra-op
    threads, one inter-op thread and no spinning pool; returned for chaining."""
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options
