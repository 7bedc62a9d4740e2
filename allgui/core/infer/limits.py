"""Bounds on what a model file can make allgui do: how much it reads, how
long one run may take, and what answers are believed.

A model file may come from anyone. Whatever it holds, opening it must not
hang (a FIFO or a device in place of a file), fill the memory (a 3 GB file
read whole before being called damaged), run for ever (a ``Loop`` of 10^15
iterations, deaf to Ctrl+C), or give labels from outputs that are not
probabilities (NaN calls every image the second class).
"""

from __future__ import annotations

import math
import mmap
import os
import queue
import stat
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from allgui.core.errors import AllguiError, ModelFileError
from allgui.core.files.text import terminal_text
from allgui.core.infer.external_data import check_external_data, external_locations

# protobuf cannot hold a message over 2 GB, so no larger ONNX file is valid;
# bigger models keep their weights in data files beside it, bounded here.
MAX_MODEL_BYTES = 2 * 2**30
MAX_EXTERNAL_BYTES = 8 * 2**30
# One batch (at most a few dozen images) takes well under a second on a GPU
# and seconds on a slow CPU for the largest backbone; a run past this is a
# model that will not end.
RUN_SECONDS = 120.0
# Probabilities may miss 0..1 and a sum of 1 by float32 rounding, no more.
PROBABILITY_TOLERANCE = 1e-3


def check_model_file(path: str) -> list[str] | None:
    """Refuse what is not an ordinary model file of a sane size, before opening
    it; returns the external-data locations it names (checked), or None when
    the file is not protobuf at all (onnxruntime will then refuse it)."""
    name = terminal_text(os.path.basename(path))
    try:
        info = os.stat(path)
    except FileNotFoundError as exc:
        raise ModelFileError(f"The model file {terminal_text(path)} does not exist.") from exc
    except OSError as exc:
        raise ModelFileError(f"Cannot read the model file {name}.", str(exc)) from exc
    if stat.S_ISDIR(info.st_mode):
        raise ModelFileError(f"{terminal_text(path)} is a folder; choose a model file (.onnx).")
    if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
        raise ModelFileError(f"{name} is not an ordinary file; choose a model file (.onnx).")
    if info.st_size > MAX_MODEL_BYTES:
        raise ModelFileError(
            f"{name} is {info.st_size / 2**30:.1f} GB, larger than any ONNX model can be "
            f"({MAX_MODEL_BYTES / 2**30:.0f} GB): it is not a model file, or it is damaged.",
        )
    if info.st_size == 0:
        return None
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            locations = external_locations(data)
    except OSError as exc:
        raise ModelFileError(f"Cannot read the model file {name}.", str(exc)) from exc
    except ValueError:  # not protobuf: onnxruntime will say it is not a model
        return None
    check_external_data(path, locations, MAX_EXTERNAL_BYTES)
    return locations


def check_threshold(value: float, what: str = "The decision threshold", *,
                    strict: bool = True) -> float:
    """A decision threshold is a probability strictly between 0 and 1. A program
    may ask (``strict`` False) for 0 or above 1, always or never positive; never
    NaN, under which every image would silently be called negative."""
    ok = isinstance(value, (int, float)) and math.isfinite(value)
    if not ok or (strict and not 0 < value < 1):
        raise AllguiError(
            f"{what} must be a probability between 0 and 1 (such as 0.5), not {value}."
        )
    return float(value)


def check_margin(value: float, what: str = "The uncertainty margin", *,
                 below_one: bool = True) -> float:
    """A margin compares the top two probabilities: 0 flags nothing, 1 or more
    would flag every answer (allowed only where ``below_one`` is False: a
    program asking for every answer to be flagged)."""
    ok = isinstance(value, (int, float)) and math.isfinite(value) and value >= 0
    if not ok or (below_one and value >= 1):
        raise AllguiError(
            f"{what} must be at least 0 and below 1 (such as 0.2), not {value}."
        )
    return float(value)


def check_probabilities(probs: Any, n_images: int, n_classes: int, name: str) -> np.ndarray:
    """The model's probabilities as an images x classes array, or ModelFileError:
    no label is given from numbers that are not probabilities."""
    arr = np.asarray(probs, dtype=np.float64)
    tol = PROBABILITY_TOLERANCE
    bad = ""
    if arr.shape != (n_images, n_classes):
        bad = f"shape {arr.shape}, expected {(n_images, n_classes)}"
    elif not np.isfinite(arr).all():
        bad = "values that are not numbers (NaN or infinite)"
    elif arr.min() < -tol or arr.max() > 1 + tol:
        bad = f"values outside 0..1 (from {arr.min():g} to {arr.max():g})"
    elif np.abs(arr.sum(axis=1) - 1).max() > tol:
        bad = f"rows that do not sum to 1 (up to {np.abs(arr.sum(axis=1) - 1).max():g} off)"
    if bad:
        raise ModelFileError(
            f"{terminal_text(name)} gives invalid probabilities, so no image was labelled; "
            "the file is damaged or was not exported by allgui.",
            details=f"model output: {bad}",
        )
    return np.clip(arr, 0.0, 1.0)


class BoundedRunner:
    """Runs an onnxruntime session on one worker thread, so the caller's
    thread stays free to take Ctrl+C and to stop a run that takes too long
    (``RunOptions.terminate``, which onnxruntime checks between operations).

    One thread for the session's life, not one per run: onnxruntime's CUDA
    provider keeps per-thread handles.
    """

    def __init__(self, session: Any, name: str, seconds: float = RUN_SECONDS) -> None:
        self._session = session
        self._name = name
        self.seconds = seconds
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._broken = ""
        worker = threading.Thread(
            target=_serve, args=(self._jobs,), name="allgui-model", daemon=True
        )
        worker.start()
        weakref.finalize(self, self._jobs.put, None)  # ends the thread with the runner

    def run(self, outputs: Sequence[str] | None, feeds: dict) -> list:
        import onnxruntime as ort

        if self._broken:
            raise ModelFileError(self._broken)
        options = ort.RunOptions()
        options.log_severity_level = 4  # a terminated run is reported by us, in words
        done = threading.Event()
        box: dict[str, Any] = {}

        def job() -> None:
            try:
                box["out"] = self._session.run(outputs, feeds, options)
            except BaseException as exc:  # handed to the caller's thread
                box["error"] = exc
            finally:
                done.set()

        self._jobs.put(job)
        deadline = time.monotonic() + self.seconds
        try:  # short waits: Ctrl+C reaches this thread between them
            while not done.wait(min(0.25, max(0.0, deadline - time.monotonic()))):
                if time.monotonic() >= deadline:
                    break
        except BaseException:  # Ctrl+C (KeyboardInterrupt): end the run, then go
            options.terminate = True
            done.wait(5.0)
            raise
        if not done.is_set():
            options.terminate = True
            done.wait(5.0)
            self._broken = (
                f"{terminal_text(self._name)} took longer than {self.seconds:g} s on one "
                "batch of images and was stopped: it is damaged or was not exported by allgui."
            )
            raise ModelFileError(self._broken)
        if "error" in box:
            raise box["error"]
        return box["out"]


def _serve(jobs: queue.SimpleQueue) -> None:
    while True:
        job: Callable[[], None] | None = jobs.get()
        if job is None:
            return
        job()
