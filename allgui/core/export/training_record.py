"""What an exported model records about its training images: their content
hashes, and where a sample of them (and of the validation images) lies in
the model's own feature space, read through the exported graph itself so
that ``evaluate`` measures new images exactly as the reference was measured.
Files that cannot be read any more are left out of the sample."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from allgui.core.dataset.imaging import prepare_image
from allgui.core.errors import AllguiError
from allgui.core.events import Progress, Sink, null_sink, seconds_words, ticking
from allgui.core.infer.model_file import INPUT_NAME, OUTPUT_FEATURES
from allgui.core.infer.training_data import TrainingFingerprint, feature_reference

BATCH = 16
JOB = "export"


def _features(session, paths: Sequence[str], size: int, sink: Sink, done: int, total: int
              ) -> tuple[np.ndarray, list[int]]:
    """Features of the readable ``paths`` and which of them were read."""
    out: list[np.ndarray] = []
    kept: list[int] = []
    batch: list[np.ndarray] = []
    idx: list[int] = []

    def flush() -> None:
        if batch:
            (f,) = session.run([OUTPUT_FEATURES], {INPUT_NAME: np.stack(batch)})
            out.append(np.asarray(f, dtype=np.float64))
            kept.extend(idx)
            batch.clear()
            idx.clear()

    for i, path in enumerate(paths):
        try:
            batch.append(prepare_image(path, size))
            idx.append(i)
        except (AllguiError, OSError):
            continue
        if len(batch) >= BATCH:
            flush()
            sink(Progress(JOB, "training images", done + i + 1, total,
                          "recording where the training images lie"))
    flush()
    return (np.concatenate(out) if out else np.zeros((0, 0))), kept


def training_fingerprint(model_bytes: bytes, size: int, hashes: Sequence[str],
                         train: Sequence[tuple[str, int]], held_out: Sequence[str],
                         sink: Sink = null_sink) -> TrainingFingerprint | None:
    """The record for a graph with a ``features`` output; None when there is
    nothing to record (no hashes and no images given)."""
    if not hashes and not train:
        return None
    reference = None
    if train:
        import onnxruntime as ort

        total = len(train) + len(held_out)

        def said(done: int):  # the single calls around the counted images, said as they run
            return ticking(lambda seconds: sink(Progress(
                JOB, "training images", done, total,
                seconds_words("recording where the training images lie", seconds))))

        with said(0):
            session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
        feats, kept = _features(session, [p for p, _ in train], size, sink, 0, total)
        labels = np.asarray([train[i][1] for i in kept], dtype=np.int64)
        ref, _ = _features(session, list(held_out), size, sink, len(train), total)
        if len(kept) >= 2:
            with said(total):
                reference = feature_reference(feats, labels, ref)
    return TrainingFingerprint(frozenset(hashes), reference)
