"""External validation: an exported model scored on labelled images from
another source, without training (the multi-centre check).

The images come as class folders or a manifest (``path,label[,patient]``),
read by :func:`allgui.core.dataset.discover.discover`; each class name must be
one of the model's (case-insensitive). The model runs through the torch-free
classifier (:mod:`allgui.core.infer`), its stored calibration applied. Every
figure comes with a 95% percentile bootstrap interval: images resampled
within each class, or whole patients resampled when patient IDs are known
(cells of one patient are not independent). Calibration is the reliability
of the probabilities the classifier reports.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from allgui.core.errors import Cancelled, DatasetError, ImageReadError
from allgui.core.events import Progress, Sink, null_sink
from allgui.core.model.decision import ARGMAX, DecisionRule
from allgui.core.model.measures import EXTERNAL, shown_in
from allgui.core.validation.calibration import Reliability, reliability
from allgui.core.validation.external_checks import (
    Checks,
    baselines,
    distance_check,
    internal_figures,
    skill_warnings,
)
from allgui.core.validation.metrics import RunMetrics, compute_metrics

JOB = "evaluate"
FIGURES = shown_in(EXTERNAL)  # the headline four


@dataclass(frozen=True)
class FigureRow:
    """One figure as every front end shows it: the engine's label (naming its
    average), its value and 95% interval (None where none could be given),
    and the class it is about (None for a figure of the whole set)."""

    key: str
    label: str
    value: float | None
    low: float | None
    high: float | None
    of_class: str | None = None


@dataclass(frozen=True)
class ExternalResult:
    model: str
    data: str
    classes: tuple[str, ...]
    positive_class: str | None
    paths: tuple[str, ...]
    patients: tuple[str, ...]
    labels: np.ndarray = field(repr=False)
    probabilities: np.ndarray = field(repr=False)
    metrics: RunMetrics = field(repr=False)
    intervals: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    interval_unit: str = "image"  # what the bootstrap resampled: 'image' or 'patient'
    calibration: Reliability | None = None
    temperature: float = 1.0
    skipped: tuple[tuple[str, str], ...] = ()  # (file, why)
    rule: DecisionRule = ARGMAX  # the model's decision rule, applied to every figure
    checks: Checks = field(default_factory=Checks)  # seen images, distance, baselines

    def to_dict(self) -> dict[str, Any]:
        head = self.metrics.headline()
        return {
            "model": self.model, "data": self.data, "classes": list(self.classes),
            "positive_class": self.positive_class, "images": len(self.paths),
            "patients": len({p for p in self.patients if p}),
            "figures": {k: {"value": head.get(k), "ci_low": self.intervals.get(k, (None,))[0],
                            "ci_high": self.intervals.get(k, (None, None))[1]}
                        for k in FIGURES if k in head},
            "interval_unit": self.interval_unit, "temperature": self.temperature,
            "decision": self.rule.describe(self.classes),
            "decision_threshold": self.rule.threshold,
            "calibration": self.calibration.to_dict() if self.calibration else None,
            "intervals": {k: list(v) for k, v in self.intervals.items()},
            "metrics": self.metrics.to_dict(),
            "skipped": [list(s) for s in self.skipped],
            "checks": self.checks.to_dict(),
        }


def _map_labels(found: tuple[str, ...], model: tuple[str, ...]) -> dict[str, int]:
    lower = {c.lower(): i for i, c in enumerate(model)}
    missing = [c for c in found if c.lower() not in lower]
    if missing:
        raise DatasetError(
            "The labelled images name classes the model does not know: "
            + ", ".join(f"'{m}'" for m in missing)
            + f". The model's classes are {', '.join(model)}; name the folders (or manifest "
            "labels) after them.")
    return {c: lower[c.lower()] for c in found}


def _check_every_class(found: set[int], classes: tuple[str, ...], data) -> None:
    """Figures of a model need images of each of its classes: said before any image runs."""
    missing = [c for i, c in enumerate(classes) if i not in found]
    if missing:
        have = [c for i, c in enumerate(classes) if i in found]
        raise DatasetError(
            f"The labelled images under {data} are all of class "
            + ", ".join(f"'{c}'" for c in have)
            + "; the model tells apart " + ", ".join(f"'{c}'" for c in classes)
            + ". Sensitivity, specificity and AUC need images of every class: add images of "
            + ", ".join(f"'{c}'" for c in missing) + " (a folder, or manifest rows, per class).")


def figure_rows(result: ExternalResult) -> tuple[FigureRow, ...]:
    """Every figure of ``result`` with its interval, in the order tables show them."""
    rows = []
    for key, label, value in result.metrics.measures():
        low, high = result.intervals.get(key, (None, None))
        of_class = key.split("[", 1)[1][:-1] if key.endswith("]") and "[" in key else None
        finite = value is not None and math.isfinite(value)
        rows.append(FigureRow(key, label, value if finite else None, low, high, of_class))
    return tuple(rows)


def _figures(labels: np.ndarray, proba: np.ndarray, classes, positive,
             rule: DecisionRule = ARGMAX) -> dict[str, float]:
    head = compute_metrics(labels, proba, classes, positive, rule=rule).headline()
    return {k: v for k, v in head.items() if v is not None and math.isfinite(v)}


def bootstrap_intervals(labels: np.ndarray, proba: np.ndarray, classes, positive,
                        patients: tuple[str, ...], resamples: int = 1000, seed: int = 0,
                        sink: Sink = null_sink, cancel: threading.Event | None = None,
                        rule: DecisionRule = ARGMAX,
                        ) -> tuple[dict[str, tuple[float | None, float | None]], str]:
    """95% percentile intervals of every headline figure (per class too; the
    per-patient mean has none), resampling whole patients when every image
    names one, else images within each class."""
    rng = np.random.default_rng(seed)
    by_patient = bool(patients) and all(patients)
    if by_patient:
        groups: dict[str, list[int]] = {}
        for i, p in enumerate(patients):
            groups.setdefault(p, []).append(i)
        members = [np.array(v) for v in groups.values()]
    strata = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    samples: dict[str, list[float]] = {}
    for n in range(1, resamples + 1):
        if cancel is not None and cancel.is_set():
            raise Cancelled("Evaluation stopped by the user.")
        if n % 20 == 0 or n == resamples:  # 2 s apart on 120 smears of 4 classes, busy CPU
            sink(Progress(JOB, phase="bootstrap intervals", done=n, total=resamples))
        if by_patient:
            pick = rng.integers(0, len(members), len(members))
            idx = np.concatenate([members[j] for j in pick])
        else:
            idx = np.concatenate([rng.choice(s, len(s)) for s in strata])
        if len(np.unique(labels[idx])) < len(strata):
            continue  # a resample without some class says nothing about it
        try:
            for k, v in _figures(labels[idx], proba[idx], classes, positive, rule).items():
                samples.setdefault(k, []).append(v)
        except (DatasetError, ValueError):
            continue
    out: dict[str, tuple[float | None, float | None]] = {}
    for k, vals in samples.items():
        if len(vals) >= 20:
            out[k] = (float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5)))
    return out, "patient" if by_patient else "image"


def evaluate_model(model: str | Path, data: str | Path, *, device: str = "auto",
                   resamples: int = 1000, sink: Sink = null_sink,
                   cancel: threading.Event | None = None,
                   include_seen: bool = False) -> ExternalResult:
    """Score ``model`` (an allgui ONNX file) on the labelled images under
    ``data``. Images with the content of one the model was trained or
    validated on are left out of the figures unless ``include_seen``."""
    from allgui.core.dataset.discover import discover
    from allgui.core.dataset.hashing import file_hash
    from allgui.core.infer.classifier import Classifier

    classifier = Classifier(model, device=device)
    index = discover(data, sink, cancel)
    records = [r for r in index.records if r.label]
    if not records:
        raise DatasetError(f"No labelled images were found under {data}: give class folders "
                           "or a manifest (path,label).")
    mapping = _map_labels(tuple(sorted({r.label for r in records})), classifier.classes)
    _check_every_class(set(mapping.values()), classifier.classes, data)
    kept, probs, skipped = [], [], list((b.path, b.reason) for b in index.bad_files)
    batch: list = []
    training = classifier.info.training
    reference = training.features if training is not None else None
    features: list[np.ndarray] | None = [] if reference is not None else None
    seen = 0

    def flush() -> None:
        if batch:
            for rec, pred in zip([b[0] for b in batch],
                                 classifier.classify_prepared([b[1] for b in batch],
                                                              heatmap=False, features=features),
                                 strict=True):
                kept.append(rec)
                probs.append([pred.probabilities[c] for c in classifier.classes])
            batch.clear()

    for n, rec in enumerate(records, 1):
        if cancel is not None and cancel.is_set():
            raise Cancelled("Evaluation stopped by the user.")
        try:
            # An image the model saw is counted, not skipped past the progress below:
            # a folder of the project's own images is mostly hashing (27 s silent
            # on 800 smears, 680 of them seen, before this was said).
            known = bool(training is not None and training.hashes
                         and file_hash(rec.path) in training.hashes)
            seen += known
            if include_seen or not known:
                batch.append((rec, classifier.prepare(rec.path)))
        except OSError as exc:
            skipped.append((rec.path, f"cannot be read: {exc.strerror or exc}"))
        except ImageReadError as exc:
            skipped.append((rec.path, exc.message))
        if len(batch) >= 16:
            flush()
        if n % 64 == 0 or n == len(records):
            sink(Progress(JOB, phase="classifying", done=n, total=len(records)))
    flush()
    if not kept and seen and not include_seen:
        raise DatasetError(f"Every readable image here ({seen}) has the same content as an "
                           "image the model was trained or validated on, so scoring it would "
                           "say nothing about new data. Give images the model never saw (or "
                           "keep them with --include-seen, knowing the figures overstate it).")
    if not kept:
        raise DatasetError("None of the labelled images could be read.")
    labels = np.array([mapping[r.label] for r in kept], dtype=np.int64)
    proba = np.asarray(probs, dtype=np.float64)
    classes, positive = classifier.classes, classifier.info.positive_class
    patients = tuple(r.patient or "" for r in kept)
    rule = classifier.rule  # the threshold classify applies, applied to every figure here
    metrics = compute_metrics(labels, proba, classes, positive,
                              patients=patients if any(patients) else None, rule=rule)
    intervals, unit = bootstrap_intervals(labels, proba, classes, positive, patients,
                                          resamples=resamples, sink=sink, cancel=cancel,
                                          rule=rule)
    base = baselines(labels, tuple(classes))
    distance = (distance_check(np.concatenate(features), reference)
                if reference is not None and features else None)
    warnings = ([distance.warning] if distance is not None and distance.warning else []) + \
        skill_warnings(metrics.headline(), intervals, base)
    checks = Checks(seen, not include_seen, training is not None and bool(training.hashes),
                    distance, base, internal_figures(classifier.info), classifier.info.test_set,
                    tuple(warnings))
    return ExternalResult(
        model=str(model), data=str(data), classes=tuple(classes), positive_class=positive,
        paths=tuple(r.path for r in kept), patients=patients, labels=labels,
        probabilities=proba, metrics=metrics, intervals=intervals, interval_unit=unit,
        calibration=reliability(labels, proba), temperature=classifier.info.card.temperature,
        skipped=tuple(skipped), rule=rule, checks=checks)
