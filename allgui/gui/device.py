"""Which device the engine and the classifier will use, in words.

torch is imported only inside :func:`describe_devices` (run on a worker
thread by the window, see :func:`probe`), never at module level, so a classify-only build
without torch opens the window all the same.
"""

from __future__ import annotations

import importlib.util
import threading


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # blocked, or half there: not usable
        return False


def has_training_engine() -> bool:
    """True when torch, timm and optuna are installed (the full build)."""
    return all(_installed(m) for m in ("torch", "timm", "optuna"))


def training_device() -> str:
    if not _installed("torch"):
        return "training unavailable (torch not installed)"
    import torch  # heavy; deliberately lazy

    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(0)}"
    return "CPU"


def classify_providers() -> str:
    try:
        import onnxruntime as ort
    except ImportError:
        return "onnxruntime not installed"
    # Azure is a remote-endpoint provider, not a device of this machine.
    names = [p.replace("ExecutionProvider", "") for p in ort.get_available_providers()
             if p != "AzureExecutionProvider"]
    return ", ".join(names)


def warm_up_engine(cancel: threading.Event | None = None) -> None:
    """Import the training engine's heavy libraries now, off the GUI thread, so
    that the first search does not pay for it (a long import holds Python's
    lock and would make the window stutter while live plots draw). Stops
    between imports once ``cancel`` is set (the window is closing)."""
    cancel = cancel or threading.Event()
    if not has_training_engine() or cancel.is_set():
        return
    import gc
    import importlib
    import multiprocessing

    # The image cache decodes in worker processes started by a fork server;
    # starting that server forks this (large) process while holding Python's
    # lock, a visible stall if it happens during a job, so do it now.
    if "forkserver" in multiprocessing.get_all_start_methods():
        from multiprocessing import forkserver

        forkserver.ensure_running()

    for name in ("torch", "torchvision", "timm", "sklearn.metrics", "optuna",
                 "alembic.migration", "sqlalchemy.dialects.sqlite", "optuna.importance",
                 "sklearn.ensemble", "onnx", "onnxruntime", "torch.onnx",
                 "allgui.core.train.runtime",
                 "allgui.core.search.runner", "allgui.core.validation.run", "allgui.core.export.onnx",
                 "allgui.core.search.importance"):
        if cancel.is_set():
            return
        try:
            importlib.import_module(name)
        except ImportError:  # an optional piece; the job says so if it needs it
            continue
    if cancel.is_set():
        return
    # A throwaway study storage loads what the first study opens (Optuna's
    # table models, SQLAlchemy's ORM), through Optuna's public API.
    import optuna

    optuna.storages.RDBStorage("sqlite:///:memory:")
    # Half a million objects are alive now, nearly all of them for good (modules,
    # functions, classes). Python's full garbage collections, started by any
    # thread that allocates a lot (a study read through SQLAlchemy), walk them
    # all while holding Python's lock: 300-800 ms without a window repaint on a
    # busy CPU. Frozen, they are left out of every later collection.
    gc.freeze()


def describe_devices() -> str:
    return f"Training: {training_device()}   ·   Classify (onnxruntime): {classify_providers()}"


def probe(sink, cancel: threading.Event) -> str:
    """The device line, once the engine is warmed up: the window's first job."""
    try:
        text = describe_devices()
    except Exception as exc:  # noqa: BLE001 - a status line must never crash the app
        text = f"Device unknown ({exc})"
    try:
        warm_up_engine(cancel)
    except Exception:  # noqa: BLE001, S110 - only a head start; the job imports again
        pass
    return text
