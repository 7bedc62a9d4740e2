"""One run of a validation batch: trained with its seed, evaluated on the
test set, and its files written next to batch.json.

The batch's loop (:mod:`allgui.core.validation.run`) decides what a failure
means for the others; this module only does the run.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np

from allgui.core.events import Notice, Sink
from allgui.core.validation.batch import Batch
from allgui.core.validation.plan import JOB, BatchPlan, PlannedRun
from allgui.core.validation.predictions import Predictions, write_predictions
from allgui.core.validation.provenance import run_card
from allgui.core.validation.run_record import RunRecord


def train_and_evaluate(plan: BatchPlan, run: PlannedRun, base, folder: Path, batch: Batch,
                       project_root: str, started: float, sink: Sink,
                       cancel: threading.Event | None) -> RunRecord:
    """One run trained, evaluated on the test set, and its files written
    (predictions.csv, checkpoint.pt, metrics.json); ``started`` is when it began."""
    from allgui.core.files.atomic import atomic_write_text
    from allgui.core.model.checkpoint import save_checkpoint
    from allgui.core.train.features import plain_features
    from allgui.core.train.loop import FitConfig, TrainingDiverged, fit
    from allgui.core.train.predict import head_proba, predict_proba
    from allgui.core.train.sources import source_for
    from allgui.core.validation.calibration import calibrate, scaled
    from allgui.core.validation.metrics import compute_metrics
    from allgui.core.validation.referral import choose_referral

    cfg, conf, test = run.model_config, run.configuration, plan.test
    result = fit(
        FitConfig(cfg, run.hparams, epochs=plan.epochs, seed=run.seed,
                  views_seed=plan.views_seed(run), settings=plan.train_settings, job=JOB,
                  run=run.number),
        source_for(plan.mode, plan.data, cache_dir=plan.cache_dir),
        device=plan.device, base_model=base, sink=sink, cancel=cancel,
    )
    cached = plan.mode == "cached" and result.model.frozen

    def outputs(images: np.ndarray) -> np.ndarray:
        """The head's outputs; in cached mode on the plain features the store keeps
        (the training features' path), so no run passes these images again."""
        if not cached:
            return predict_proba(result.model, images, device=plan.device, cancel=cancel)
        settings = plan.train_settings
        features, _ = plain_features(result.model, images, plan.device,
                                     cache_dir=plan.cache_dir, features=settings.features,
                                     amp=settings.amp, batch_size=settings.extract_batch_size,
                                     cancel=cancel, precision=settings.feature_precision)
        return head_proba(result.model, features)

    proba = outputs(test.images)
    if not np.all(np.isfinite(proba)):
        raise TrainingDiverged("The trained model gives invalid outputs (not numbers) "
                               "on the test images: training diverged.")
    metrics = compute_metrics(test.labels, proba, plan.classes, plan.positive,
                              patients=test.patients)
    # Temperature scaling on the validation part; predictions.csv keeps the raw
    # outputs, the model file carries T and the classifier applies it.
    val_proba = outputs(plan.data.val_images)
    calibration = calibrate(plan.data.val_labels, val_proba, test.labels, proba)
    referral = choose_referral(plan.data.val_labels, scaled(val_proba, calibration.temperature),
                               test.labels, scaled(proba, calibration.temperature),
                               plan.referral_target)
    if referral.supported is False:
        sink(Notice(JOB, level="warning", text=f"{run.label} run {run.k}: referral "
                    + referral.backing(flag="") + "."))
    folder.mkdir(parents=True, exist_ok=True)
    write_predictions(folder / "predictions.csv", Predictions(
        test.paths, test.patients, test.labels, proba, plan.classes))
    curves = {name: [float(getattr(e, name)) for e in result.history]
              for name in ("train_loss", "val_loss", "train_accuracy", "val_accuracy",
                           "train_balanced_accuracy", "val_balanced_accuracy", "lr")}
    save_checkpoint(
        folder / "checkpoint.pt", result.model, cfg,
        extra={"label": run.label, "batch": batch.batch_id, "params": conf.params,
               "source": conf.source, "best_epoch": result.best_epoch},
        card=run_card(batch, conf, run.k, run.seed, metrics.headline(), project_root,
                      calibration.temperature, referral.margin),
        class_names=plan.classes, image_size=plan.image_size,
    )
    record = RunRecord(run.label, run.k, run.seed, "finished", str(folder), len(result.history),
                       result.best_epoch, time.perf_counter() - started, "", metrics, curves,
                       {**calibration.to_dict(), "referral": referral.to_dict()})
    atomic_write_text(folder / "metrics.json", json.dumps(record.to_dict(), indent=1))
    return record


def free_gpu() -> None:
    """Give the memory of a failed run back, so the next run starts clean."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
