"""The linear probe: the baseline a reviewer tries first.

Multinomial logistic regression (scikit-learn, lbfgs) on the frozen
backbone's plain (not augmented) pooled features, standardised on the
training part, classes weighted as the tuned head weights them; its
inverse regularisation C is chosen on the validation part (balanced
accuracy, ties to the lower validation log loss). It trains on the same
training part as the tuned runs and is scored on the same test images.

Deterministic: the seed changes nothing, so one probe is fitted and its
record repeated for each seed of the batch, which pairs it with every run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from allgui.core.validation.batch import (
    PROBE,
    Configuration,
    Predictions,
    RunRecord,
    write_predictions,
)

C_GRID = tuple(float(10.0 ** k) for k in range(-4, 3))
PROBE_SOURCE = ("linear probe: logistic regression on the frozen backbone's plain features, "
                "C chosen on validation")


@dataclass(frozen=True, eq=False)
class ProbeFit:
    C: float
    val_balanced_accuracy: float
    mean: np.ndarray
    scale: np.ndarray
    model: object  # sklearn LogisticRegression

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        x = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        return np.asarray(self.model.predict_proba(x), dtype=np.float64)  # type: ignore[attr-defined]


def _balanced_accuracy(labels: np.ndarray, pred: np.ndarray) -> float:
    recalls = [float((pred[labels == c] == c).mean()) for c in np.unique(labels)]
    return float(np.mean(recalls)) if recalls else float("nan")


def fit_probe(train: np.ndarray, y_train: np.ndarray, val: np.ndarray, y_val: np.ndarray,
              grid: tuple[float, ...] = C_GRID) -> ProbeFit:
    """The probe with C chosen on ``val``; see the module docstring."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    train = np.asarray(train, dtype=np.float64)
    mean = train.mean(axis=0)
    scale = train.std(axis=0)
    scale[scale < 1e-12] = 1.0
    xt, xv = (train - mean) / scale, (np.asarray(val, dtype=np.float64) - mean) / scale
    best: tuple[float, float, float, object] | None = None
    for c in grid:
        model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(xt, y_train)
        proba = model.predict_proba(xv)
        score = _balanced_accuracy(np.asarray(y_val), proba.argmax(1))
        loss = float(-np.mean(np.log(np.clip(proba[np.arange(len(y_val)), y_val], 1e-12, 1))))
        if best is None or (score, -loss) > (best[1], -best[2]):
            best = (c, score, loss, model)
    assert best is not None
    return ProbeFit(best[0], best[1], mean, scale, best[3])


def run_probe(plan, base, batch_path: Path, sink, cancel) -> tuple[Configuration, list[RunRecord]]:
    """The probe of a batch: features of the three parts from the shared frozen
    backbone ``base``, one fit, its test figures, one record per seed."""
    from allgui.core.files.atomic import atomic_write_text
    from allgui.core.train.features import extract
    from allgui.core.validation.calibration import calibrate
    from allgui.core.validation.metrics import compute_metrics

    started = time.perf_counter()
    data, test = plan.data, plan.test
    feats = [extract(base, images, plan.device, cancel=cancel)
             for images in (data.train_images, data.val_images, test.images)]
    probe = fit_probe(feats[0], data.train_labels, feats[1], data.val_labels)
    proba = probe.predict_proba(feats[2])
    metrics = compute_metrics(test.labels, proba, plan.classes, plan.positive,
                              patients=test.patients)
    calibration = calibrate(data.val_labels, probe.predict_proba(feats[1]), test.labels, proba)
    folder = batch_path / "probe"
    folder.mkdir(parents=True, exist_ok=True)
    write_predictions(folder / "predictions.csv", Predictions(
        test.paths, test.patients, test.labels, proba, plan.classes))
    conf = Configuration({"C": probe.C, "val_balanced_accuracy": probe.val_balanced_accuracy},
                         PROBE_SOURCE)
    seconds = time.perf_counter() - started
    records = [RunRecord(PROBE, k, seed, "finished", str(folder), 0, 0, seconds, "", metrics,
                         {}, calibration.to_dict())
               for k, seed in enumerate(sorted({r.seed for r in plan.runs}), 1)]
    atomic_write_text(folder / "metrics.json", json.dumps(records[0].to_dict(), indent=1))
    return conf, records
