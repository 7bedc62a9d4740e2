"""The linear probe: the baseline a reviewer tries first.

Multinomial logistic regression (scikit-learn, lbfgs) on the frozen
backbone's pooled features, standardised, classes weighted as the tuned
head weights them. Its inverse regularisation C is
chosen by stratified k-fold cross-validation on the training and validation
parts together (the lowest out-of-fold log loss), then the
probe is refitted on both: a small validation part alone, where most values
of C tie, chooses badly. It is scored on the same test images as the runs;
its calibration is fitted on the validation images' out-of-fold outputs
(never on outputs of a model that trained on them).

The features are the ones the runs read, from the same cache (the same
path: onnxruntime or OpenVINO on a CPU), with progress, so the probe makes
no backbone pass of its own: by default (``'view'``) the first training
view (what every run's first epoch trains on: augmented as the runs' views
are), the plain validation features and the plain test features. ``'views'``
trains on every view the runs read (the folds keep an image's views
together); ``'plain'`` on plain training features, which only the probe
reads: one backbone pass per training image, said when the batch starts.
Which it used is in batch.json (``probe.params['features']``) and the
report. The fit is kept in the project's cache too, so a new batch on an
unchanged split refits nothing.

Deterministic: the seed changes nothing, so one probe is fitted and its
record repeated for each seed of the batch, which pairs it with every run.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from allgui.core.events import Progress
from allgui.core.validation.plan import JOB
from allgui.core.validation.predictions import Predictions, write_predictions
from allgui.core.validation.run_record import PROBE, Configuration, RunRecord

C_GRID = tuple(float(10.0 ** k) for k in range(-4, 3))
FOLDS = 5
LAYOUT = 1  # of the kept fit


@dataclass(frozen=True, eq=False)
class ProbeFit:
    C: float
    cv_balanced_accuracy: float  # of the chosen C, over the folds
    folds: int  # 0: too few images of a class to cross-validate; C chosen on validation
    mean: np.ndarray
    scale: np.ndarray
    model: object  # sklearn LogisticRegression
    val_proba: np.ndarray  # out-of-fold outputs on the validation rows (for calibration)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        x = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        return np.asarray(self.model.predict_proba(x), dtype=np.float64)  # type: ignore[attr-defined]


def _balanced_accuracy(labels: np.ndarray, pred: np.ndarray) -> float:
    recalls = [float((pred[labels == c] == c).mean()) for c in np.unique(labels)]
    return float(np.mean(recalls)) if recalls else float("nan")


def _log_loss(labels: np.ndarray, proba: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(labels)), labels], 1e-12, 1))))


def _standardised(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = train.mean(axis=0)
    scale = train.std(axis=0)
    scale[scale < 1e-12] = 1.0
    return mean, scale


def _path(grid: tuple[float, ...], xt: np.ndarray, yt: np.ndarray, xs: list[np.ndarray],
          step: Callable[[], None]) -> list[tuple[object, list[np.ndarray]]]:
    """One model per C (ascending, each started from the last: lbfgs then
    needs few steps), and its probabilities on each of ``xs``."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    out: list[tuple[object, list[np.ndarray]]] = []
    model = None
    for c in sorted(grid):
        if model is None:
            model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced",
                                       warm_start=True)
        else:
            model.set_params(C=c)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(xt, yt)
        out.append((_frozen_copy(model), [model.predict_proba(x) for x in xs]))
        step()
    return out


def _frozen_copy(model):
    import copy

    return copy.deepcopy(model)


def fit_probe(train: np.ndarray, y_train: np.ndarray, val: np.ndarray, y_val: np.ndarray,
              grid: tuple[float, ...] = C_GRID, folds: int = FOLDS,
              progress: Callable[[int, int], None] | None = None,
              train_images: np.ndarray | None = None) -> ProbeFit:
    """The probe; see the module docstring. ``progress(done, total)`` counts fits.
    ``train_images`` (one per training row) names the image of each row when an
    image has several (views): the folds then keep an image's rows together."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    x = np.concatenate([np.asarray(train, np.float64), np.asarray(val, np.float64)])
    y = np.concatenate([np.asarray(y_train), np.asarray(y_val)]).astype(int)
    n_train = len(train)
    groups = None
    if train_images is not None:
        groups = np.concatenate([np.asarray(train_images, np.int64),
                                 int(np.max(train_images, initial=-1)) + 1 + np.arange(len(val))])
    # folds need images of every class, not rows: an image's views count once
    first = np.unique(groups, return_index=True)[1] if groups is not None else slice(None)
    counts = np.bincount(y[first])
    k = min(folds, int(counts[counts > 0].min())) if len(y) else 0
    total = len(grid) * k + 1 if k >= 2 else len(grid)
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    if progress is not None:
        progress(0, total)
    if k < 2:  # a class with one image: no folds possible; choose on validation as before
        mean, scale = _standardised(x[:n_train])
        xt, xv = (x[:n_train] - mean) / scale, (x[n_train:] - mean) / scale
        fits = _path(grid, xt, y[:n_train], [xv], step)
        scores = [(_balanced_accuracy(y[n_train:], p[0].argmax(1)), -_log_loss(y[n_train:], p[0]))
                  for _, p in fits]
        best = max(range(len(fits)), key=lambda i: (scores[i], -i))
        return ProbeFit(sorted(grid)[best], scores[best][0], 0, mean, scale, fits[best][0],
                        fits[best][1][0])
    oof = np.zeros((len(grid), len(y), int(y.max()) + 1))
    splitter = (StratifiedKFold(n_splits=k, shuffle=True, random_state=0) if groups is None
                else StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=0))
    for fit_rows, held in splitter.split(x, y, groups):
        mean, scale = _standardised(x[fit_rows])
        fits = _path(grid, (x[fit_rows] - mean) / scale, y[fit_rows],
                     [(x[held] - mean) / scale], step)
        for i, (model, (proba,)) in enumerate(fits):
            cols = np.asarray(model.classes_, dtype=np.int64)  # type: ignore[attr-defined]
            oof[i][np.ix_(held, cols)] = proba
    # The out-of-fold log loss decides: a proper score, which seldom ties where
    # balanced accuracy on a few hundred images ties for most C. Ties go to the
    # smaller C (stronger regularisation): the grid is ascending.
    losses = [_log_loss(y, p) for p in oof]
    best = min(range(len(grid)), key=lambda i: (round(losses[i], 12), i))
    c = sorted(grid)[best]
    scores = [(_balanced_accuracy(y, p.argmax(1)), -losses[i]) for i, p in enumerate(oof)]
    mean, scale = _standardised(x)
    (model, _), = _path((c,), (x - mean) / scale, y, [], step)
    return ProbeFit(c, scores[best][0], k, mean, scale, model, oof[best][n_train:])


def probe_source(features: str, views: int, transformed: float) -> str:
    """What the probe is, in the words batch.json and the report keep."""
    trained_on = {
        "view": f"the first training view the runs read ({transformed:.0%} of its images "
                "transformed, the rest only flipped)",
        "views": f"the {views} training views the runs read (an image's views kept in one fold)",
        "plain": "plain (not augmented) training features, computed for the probe alone",
    }[features]
    return (f"linear probe: logistic regression on the frozen backbone's features of "
            f"{trained_on}, C chosen by cross-validation on training + validation (plain), "
            "refitted on both, scored on the plain test features")


def plain_training_cost(train_images: int) -> str:
    """The sentence said when the probe trains on plain training features."""
    return (f"The linear probe trains on plain training features, which no run reads: "
            f"{train_images:,} backbone passes beyond the runs' (kept in the cache for "
            "later batches). The default, the runs' first view, costs none.")


def probe_views(plan, features: str) -> int:
    """How many of the runs' training views the probe reads (0: plain features)."""
    from allgui.core.train.views import views_read

    return {"view": 1, "views": views_read(plan.train_settings.views, plan.epochs),
            "plain": 0}[features]


def _features(plan, base, features: str, counted, cancel
              ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """(training rows, the image of each row or None, validation, test) features,
    read where the runs read theirs; see the module docstring."""
    from allgui.core.train.features import plain_features
    from allgui.core.train.sources import cached_feature_set

    data, settings = plan.data, plan.train_settings
    base.to(plan.device)

    def plain(images: np.ndarray) -> np.ndarray:
        arr, _ = plain_features(base, images, plan.device, cache_dir=plan.cache_dir,
                                features=settings.features, amp=settings.amp,
                                batch_size=settings.extract_batch_size, cancel=cancel,
                                on_batch=counted, precision=settings.feature_precision)
        return arr

    images = None
    if features == "plain":
        train, val = plain(data.train_images), plain(data.val_images)
    else:
        offset = counted.done
        views = cached_feature_set(
            base, data, plan.device, settings, views=probe_views(plan, features),
            seed=plan.views_seed(plan.runs[0]), cache_dir=plan.cache_dir, cancel=cancel,
            progress=lambda done, total: counted.to(offset + done))
        train = np.concatenate([np.asarray(v) for v in views.train_views])
        val = np.array(views.val)
        if views.views > 1:
            images = np.tile(np.arange(len(data.train_images)), views.views)
    return train, images, val, plain(plan.test.images)


class _Count:
    """Images through the probe's feature reads (cached ones included), as Progress."""

    def __init__(self, sink, total: int) -> None:
        self.sink, self.total, self.done = sink, total, 0
        self.to(0)

    def __call__(self, n: int) -> None:
        self.to(self.done + n)

    def to(self, done: int) -> None:
        self.done = done
        self.sink(Progress(JOB, phase="probe features", done=done, total=self.total,
                           message="Linear probe: the runs' cached features"))


def run_probe(plan, base, batch_path: Path, sink, cancel) -> tuple[Configuration, list[RunRecord]]:
    """The probe of a batch: the features of the three parts the runs read, from
    the shared frozen backbone ``base`` (``plan.probe_features`` says which
    training features), one fit (kept), its test figures, one record per seed."""
    from allgui.core.files.atomic import atomic_write_text
    from allgui.core.train.features import array_fingerprint
    from allgui.core.validation.calibration import calibrate
    from allgui.core.validation.metrics import compute_metrics

    started = time.perf_counter()
    data, test, which = plan.data, plan.test, plan.probe_features
    views = probe_views(plan, which)
    counted = _Count(sink, max(views, 1) * len(data.train_images) + len(data.val_images)
                     + len(test.images))
    train, images, val, test_features = _features(plan, base, which, counted, cancel)
    y_train = np.tile(np.asarray(data.train_labels), len(train) // max(1, len(data.train_images)))

    def fitted(d: int, t: int) -> None:
        sink(Progress(JOB, phase="probe fits", done=d, total=t,
                      message=f"Linear probe: choosing C by {FOLDS}-fold cross-validation"))

    feats = [train, val, test_features]
    key = _fit_key(feats, y_train, data.val_labels, array_fingerprint)
    kept = _load_fit(plan.cache_dir, key)
    if kept is None:
        probe = fit_probe(train, y_train, val, data.val_labels, progress=fitted,
                          train_images=images)
        kept = {"C": probe.C, "cv_balanced_accuracy": probe.cv_balanced_accuracy,
                "folds": probe.folds, "test_proba": probe.predict_proba(test_features),
                "val_proba": probe.val_proba}
        _save_fit(plan.cache_dir, key, kept)
    proba = np.asarray(kept["test_proba"], dtype=np.float64)
    metrics = compute_metrics(test.labels, proba, plan.classes, plan.positive,
                              patients=test.patients)
    calibration = calibrate(data.val_labels, np.asarray(kept["val_proba"]), test.labels, proba)
    folder = batch_path / "probe"
    folder.mkdir(parents=True, exist_ok=True)
    write_predictions(folder / "predictions.csv", Predictions(
        test.paths, test.patients, test.labels, proba, plan.classes))
    conf = Configuration({"C": float(kept["C"]),
                          "cv_balanced_accuracy": float(kept["cv_balanced_accuracy"]),
                          "folds": int(kept["folds"]), "features": which, "views": views},
                         probe_source(which, views,
                                      plan.train_settings.augmentation.probability))
    seconds = time.perf_counter() - started
    records = [RunRecord(PROBE, k, seed, "finished", str(folder), 0, 0, seconds, "", metrics,
                         {}, calibration.to_dict())
               for k, seed in enumerate(sorted({r.seed for r in plan.runs}), 1)]
    atomic_write_text(folder / "metrics.json", json.dumps(records[0].to_dict(), indent=1))
    return conf, records


def _fit_key(feats, y_train, y_val, fingerprint) -> str:
    h = hashlib.sha256(json.dumps({
        "layout": LAYOUT, "grid": C_GRID, "folds": FOLDS,
        "features": fingerprint(*feats),
        "labels": fingerprint(np.asarray(y_train, np.int64), np.asarray(y_val, np.int64)),
    }).encode())
    return h.hexdigest()[:20]


def _fit_path(cache_dir, key: str) -> Path | None:
    return Path(cache_dir) / "probe" / f"{key}.npz" if cache_dir is not None else None


def _load_fit(cache_dir, key: str) -> dict | None:
    path = _fit_path(cache_dir, key)
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path) as z:
            return {name: z[name] for name in z.files}
    except (OSError, ValueError, KeyError):
        return None  # damaged: fit again


def _save_fit(cache_dir, key: str, kept: dict) -> None:
    from allgui.core.files.atomic import atomic_open

    path = _fit_path(cache_dir, key)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as fh:
        arrays: dict[str, Any] = {k: np.asarray(v) for k, v in kept.items()}
        np.savez(fh, **arrays)
