"""The reproducibility record: what software and machine produced a result."""

from __future__ import annotations

import datetime as _dt
import platform
import sys
from importlib import metadata

from allgui import __version__

PACKAGES = ("torch", "torchvision", "timm", "optuna", "numpy", "scikit-learn", "scipy")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def device_description(device: str | None = None) -> str:
    """'NVIDIA H100 80GB HBM3 (cuda)' or 'CPU: x86_64, 2 threads (cpu)'."""
    import torch

    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if dev.startswith("cuda") and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(torch.device(dev))} ({dev}, CUDA {torch.version.cuda})"
    return f"CPU: {platform.machine() or 'unknown'}, {torch.get_num_threads()} threads ({dev})"


def now_utc() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def environment_record(device: str | None = None) -> dict[str, str]:
    record = {"allgui": __version__}
    record.update({p: _version(p) for p in PACKAGES})
    record["python"] = sys.version.split()[0]
    record["platform"] = platform.platform()
    record["device"] = device_description(device)
    record["date"] = now_utc()
    return record


def run_environment(device: str, mode: str, cfg, shared: dict, prepared,
                 settings, project,
                 precision: str) -> dict[str, str]:
    """The machine and software, and (cached mode) what computes the features:
    chosen here once, so every run reuses the checked onnxruntime session."""
    record = environment_record(device)
    if mode == "cached" and cfg.backbone in shared:
        from allgui.core.train.device import resolve_device
        from allgui.core.train.features import feature_runtime

        runtime = feature_runtime(shared[cfg.backbone], prepared.train.images,
                                  resolve_device(device), choice=settings.features,
                                  cache_dir=project.cache_dir, precision=precision,
                                  labels=prepared.train.labels)
        record["features"] = runtime.path.description
    return record
