"""One trial of a search: its values suggested from the space, trained with
:func:`~allgui.core.train.loop.fit`, and how it ended told to the study. The
loop around the trials is :mod:`allgui.core.search.loop`.

- The value of a trial is the objective on validation at the epoch with the
  lowest validation loss (the weights such a run keeps). Each trial keeps
  its per-epoch curve, settings, seed and timings as user attributes
  (:mod:`allgui.core.search.record`).
- Stop (``cancel`` set): the running trial ends at the next batch, is marked
  FAIL ('stopped by the user'), and its parameters are queued again.
- CUDA out of memory: that trial fails with the reason (no retry at a
  smaller batch: the sampler must see the batch size it chose), and the
  study goes on. A NaN loss likewise fails the trial, not the study.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import threading
import time
from typing import Any

import torch

from allgui import __version__
from allgui.core.errors import AllguiError, Cancelled
from allgui.core.events import (
    Notice,
    Progress,
    Sink,
    TrialFailed,
    TrialFinished,
    TrialPruned,
    TrialStarted,
    seconds_words,
)
from allgui.core.model.classifier import AllClassifier, ModelConfig, build_model, weights_tag
from allgui.core.project import Project
from allgui.core.search import study_write as W
from allgui.core.search.record import plain
from allgui.core.search.settings import SEARCH_JOB, SearchSettings
from allgui.core.search.space import SearchSpace
from allgui.core.train.augment import AugmentSettings
from allgui.core.train.features import PREPARING, FeatureSet, build_feature_set
from allgui.core.train.hparams import configuration
from allgui.core.train.loop import (
    FitConfig,
    TrainingDiverged,
    TrainSettings,
    build_seeded,
    class_weight_record,
    fit,
    recipe,
)
from allgui.core.train.sources import TrainingData, announce_features, source_for
from allgui.core.train.views import unused_views_note, views_read

JOB = SEARCH_JOB  # the job a search's events name


def search_train_settings(settings: SearchSettings) -> TrainSettings:
    """How each trial trains, from the search's settings."""
    return TrainSettings(objective=settings.objective, views=settings.views,
                         extract_batch_size=settings.extract_batch_size,
                         features=settings.features, precision=settings.precision,
                         feature_precision=settings.feature_precision,
                         augmentation=AugmentSettings.from_search(settings),
                         val_loss=settings.val_loss, trial_value=settings.trial_value)


def suggest(trial, space: SearchSpace) -> tuple[dict[str, Any], dict[str, Any]]:
    """(searched, fixed) parameter values for this trial."""
    searched, fixed = {}, {}
    for p in space.params:
        if not p.search:
            fixed[p.name] = p.fixed
        elif p.choices:
            searched[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        else:
            searched[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
    return searched, fixed


def trial_configuration(values: dict[str, Any], project: Project, n_classes: int):
    """A trial's values as the model and optimiser settings it trains with."""
    model = project.settings.model  # what the trial does not set stays untuned
    return configuration(values, backbone=model.backbone, weights=model.weights,
                                  finetune_stages=model.finetune_stages, n_classes=n_classes)


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


def _free_gpu() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class _Backbones:
    """Built backbones (and, cached mode, their features), one per backbone
    name, made on first use and shared by every trial."""

    def __init__(self, project, settings, data, device, sink, cancel):
        self.project, self.settings, self.data = project, settings, data
        self.device, self.sink, self.cancel = device, sink, cancel
        self.models: dict[str, AllClassifier] = {}
        self.features: dict[str, FeatureSet] = {}
        self.features_s = 0.0

    def get(self, config: ModelConfig) -> tuple[AllClassifier | None, FeatureSet | None]:
        if config.finetune_stages:
            return None, None  # fine-tuning trains its own copy of the backbone
        name = config.backbone
        if name not in self.models:  # random-init backbones are the seed's: validation's too
            self.models[name] = build_seeded(dataclasses.replace(config, hidden=8),
                                             self.settings.seed)
        model = self.models[name]
        if self.settings.mode == "cached" and name not in self.features:
            started = time.perf_counter()
            model.to(self.device)

            views = views_read(self.settings.views, self.settings.epochs)
            note = unused_views_note(self.settings.views, self.settings.epochs)
            if note:
                self.sink(Notice(job=JOB, level="info", text=note))

            def progress(done: int, total: int) -> None:
                self.sink(Progress(job=JOB, phase="features", done=done, total=total,
                                   message=f"Backbone features ({name}, "
                                           f"{views} views), once for all trials"))

            self.features[name] = build_feature_set(
                model, self.data.train_images, self.data.val_images,
                views=views, seed=self.settings.seed, device=self.device,
                cache_dir=self.project.cache_dir, data_key=self.data.key,
                batch_size=self.settings.extract_batch_size, cancel=self.cancel,
                progress=progress, features=self.settings.features,
                amp=self.settings.precision,
                augmentation=AugmentSettings.from_search(self.settings),
                precision=self.settings.feature_precision, train_labels=self.data.train_labels,
                preparing=lambda seconds: self.sink(Progress(
                    job=JOB, phase="features", message=seconds_words(PREPARING, seconds))),
            )
            announce_features(self.sink, JOB, self.features[name])
            self.features_s += time.perf_counter() - started
        return model, self.features.get(name)


class Trials:
    """Runs one asked trial at a time and tells the study how it ended."""

    def __init__(self, project: Project, settings: SearchSettings, data: TrainingData,
                 device: torch.device, sink: Sink, cancel: threading.Event) -> None:
        self.project, self.settings, self.data = project, settings, data
        self.device, self.sink, self.cancel = device, sink, cancel
        self.backbones = _Backbones(project, settings, data, device, sink, cancel)
        self.train_settings = search_train_settings(settings)

    def prepare_backbone(self) -> bool:
        """Build the backbone (and, cached mode, its features) before the first
        trial, so that weights that cannot be had stop the search with one plain
        message rather than failing every trial. False when stopped meanwhile."""
        choice = self.settings.space.get("backbone")
        if choice is not None and choice.search:
            return True  # several backbones: each is built when a trial first asks for it
        values = {"backbone": choice.fixed} if choice is not None else {}
        config, _ = trial_configuration(values, self.project, len(self.data.class_names))
        try:
            if config.finetune_stages:
                build_model(config)  # fine-tuning builds per trial; check the weights once
            else:
                self.backbones.get(config)
        except Cancelled:
            return False
        return True

    def _settings_record(self, seed: int, config: ModelConfig, fixed: dict,
                         features: FeatureSet | None) -> dict[str, Any]:
        s = self.settings
        return {
            "features": features.path if features is not None else "",
            "mode": s.mode, "epochs": s.epochs, "views": s.views,
            "objective": s.objective, "seed": seed, "views_seed": s.seed,
            "backbone": config.backbone, "weights": config.weights,
            "finetune_stages": config.finetune_stages, "device": str(self.device),
            "fixed": fixed, "sampler": s.sampler_settings(),
            "pruner": s.pruner_settings(), "allgui_version": __version__,
            "backbone_seed": s.seed,  # what a randomly initialised backbone was built from
            "training": recipe(self.train_settings, self.device),
            "class_weights": class_weight_record(self.data.train_labels, self.data.class_names),
            "weights_tag": self._weights_tag(config),
        }

    def _weights_tag(self, config: ModelConfig) -> str:
        model = self.backbones.models.get(config.backbone)
        if model is None or config.finetune_stages:
            return config.weights if config.weights != "none" else (
                f"random initialisation (seed {self.settings.seed})")
        return weights_tag(model, self.settings.seed)

    def run(self, study, trial) -> bool:
        """Run one asked trial and tell Optuna how it ended; False when stopped."""
        import optuna
        from optuna.trial import TrialState

        settings, sink, number = self.settings, self.sink, trial.number
        searched: dict[str, Any] = {}
        history: list[dict[str, Any]] = []
        epochs_run = 0
        try:
            searched, fixed = suggest(trial, settings.space)
            values = {**fixed, **searched}
            config, hp = trial_configuration(values, self.project, len(self.data.class_names))
            seed = settings.seed + number
            known = self.backbones.features.get(config.backbone)
            first = self._settings_record(seed, config, fixed, known)
            W.write_settings(trial, first)
            sink(TrialStarted(JOB, number=number, params=dict(values)))
            base, features = self.backbones.get(config)
            built = self._settings_record(seed, config, fixed, features)
            if built != first:  # a backbone's first trial: its features and weights now known
                W.write_settings(trial, built)

            def on_epoch(record) -> None:
                nonlocal epochs_run
                epochs_run = record.epoch
                history.append(plain(dataclasses.asdict(record)))
                # Reported only for a pruner: each report is one write to the study
                # (tens of ms on SQLite); the curve is kept in the 'history' attribute.
                if settings.pruning != "none":
                    trial.report(record.objective, record.epoch)
                    if trial.should_prune():
                        raise optuna.TrialPruned()

            result = fit(
                FitConfig(config, hp, epochs=settings.epochs, seed=seed,
                          views_seed=settings.seed, settings=self.train_settings, job=JOB,
                          trial=number),
                source_for(settings.mode, self.data, features=features,
                           cache_dir=self.project.cache_dir),
                device=self.device, base_model=base, sink=sink, cancel=self.cancel,
                on_epoch=on_epoch,
            )
            best = result.best
            W.write_outcome(trial, history, epochs_run=len(result.history),
                            best_epoch=result.best_epoch, duration_s=result.duration_s,
                            val_accuracy=best.val_accuracy,
                            val_balanced_accuracy=best.val_balanced_accuracy,
                            val_loss=best.val_loss, stopped_early=result.stopped_early)
            W.write_curve(study, trial, history)
            if not math.isfinite(result.value):
                raise TrainingDiverged(
                    f"The objective ({settings.objective}) could not be computed.")
            study.tell(trial, result.value)
            sink(TrialFinished(JOB, number=number, value=result.value, params=dict(values),
                               duration_s=result.duration_s, epochs_run=len(result.history)))
            return True
        except optuna.TrialPruned:
            W.write_outcome(trial, history, epochs_run=epochs_run,
                            epochs_saved=settings.epochs - epochs_run)
            W.write_curve(study, trial, history)
            study.tell(trial, state=TrialState.PRUNED)
            sink(TrialPruned(JOB, number=number, epoch=epochs_run,
                             reason=f"{settings.pruning} pruner: below others at epoch "
                                    f"{epochs_run}", params=dict(searched)))
            return True
        except Cancelled:
            W.fail(study, trial, "stopped by the user", history, epochs_run, interrupted=True)
            if searched:
                W.requeue(study, searched, number)
            sink(TrialFailed(JOB, number=number, reason="stopped by the user",
                             params=dict(searched)))
            return False
        except KeyboardInterrupt:
            W.fail(study, trial, "interrupted (Ctrl+C)", history, epochs_run, interrupted=True)
            if searched:
                W.requeue(study, searched, number)
            raise
        except Exception as exc:
            if _is_oom(exc):
                reason = (f"out of GPU memory at batch size {searched.get('batch_size', '?')} "
                          "(not retried; the study goes on)")
                _free_gpu()
            elif isinstance(exc, AllguiError):
                reason = exc.message
            else:
                reason = f"unexpected error: {type(exc).__name__}: {exc}"
            W.fail(study, trial, reason, history, epochs_run, interrupted=False)
            sink(TrialFailed(JOB, number=number, reason=reason, params=dict(searched)))
            if isinstance(exc, AllguiError) or _is_oom(exc):
                return True
            raise
