"""What a validation batch will run: its runs in order, the test set, and
what every run shares (mode, device, data), as frozen values.

Built by :func:`plan_batch` for :func:`~allgui.core.validation.run.run_batch`
once the configuration is chosen and the test set checked, with the batch's
first record; the runs then only read it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from allgui.core.errors import DatasetError
from allgui.core.events import Notice, Sink
from allgui.core.project import Project
from allgui.core.train.views import DEFAULT_VIEWS, fresh_views_cost, views_read
from allgui.core.validation.batch import Batch, new_batch_id
from allgui.core.validation.configuration import model_and_hparams, recorded_params
from allgui.core.validation.provenance import (
    DatasetRecord,
    ModelRecord,
    PartCount,
    SplitRecord,
    StudySummary,
)
from allgui.core.validation.record import now_utc, run_environment
from allgui.core.validation.run_record import BASELINE, TUNED, Configuration

if TYPE_CHECKING:
    import torch

    from allgui.core.model.classifier import ModelConfig
    from allgui.core.train.loop import HyperParams, TrainSettings
    from allgui.core.train.sources import TrainingData
    from allgui.core.validation.run import ValidationSettings

JOB = "validate"  # the job named in a batch's events


@dataclass(frozen=True)
class PlannedRun:
    """One run: the configuration it trains, its seed, and its number in events
    (unique in the batch: tuned runs 1..N, baseline runs N+1..2N)."""

    label: str  # TUNED or BASELINE
    k: int  # 1..N within its label
    number: int
    seed: int
    model_config: ModelConfig
    hparams: HyperParams
    configuration: Configuration  # as batch.json records it

    @property
    def folder_name(self) -> str:
        return f"{'run' if self.label == TUNED else 'baseline'}-{self.k}"

    @property
    def title(self) -> str:
        return f"{self.label} run {self.k}"


@dataclass(frozen=True, eq=False)
class TestSet:
    """The images every run is evaluated on, and the words tables use for them."""

    images: np.ndarray
    labels: np.ndarray
    paths: tuple[str, ...]
    patients: tuple[str, ...]
    description: str

    @classmethod
    def from_prepared(cls, prepared, description: str) -> TestSet:
        test = prepared.test
        return cls(test.images, test.labels,
                   tuple(prepared.index.records[i].path for i in test.indices),
                   tuple(p or "" for p in test.patients), description)


@dataclass(frozen=True, eq=False)
class BatchPlan:
    """Every run of a batch, in order, and what they share."""

    runs: tuple[PlannedRun, ...]
    runs_per_label: int
    epochs: int
    mode: str  # 'cached' or 'online'
    train_settings: TrainSettings
    device: torch.device
    cache_dir: Path
    data: TrainingData
    test: TestSet
    classes: tuple[str, ...]
    positive: str
    image_size: int
    study_name: str
    shared_views_seed: int | None = None  # None: each run draws views from its own seed
    project_root: str = ""  # recorded in each run's model card
    referral_target: float = 0.99  # accuracy wanted on the cells not flagged uncertain
    probe_features: str = "view"  # what the probe trains on (settings_check.PROBE_FEATURES)

    def views_seed(self, run: PlannedRun) -> int:
        return run.seed if self.shared_views_seed is None else self.shared_views_seed


def planned_runs(seeds: tuple[int, ...], tuned: tuple[Any, Any, Configuration],
                 baseline: tuple[Any, Any, Configuration] | None) -> tuple[PlannedRun, ...]:
    """Tuned and baseline runs alternating seed by seed, so that a batch
    stopped half-way still holds pairs; ``tuned``/``baseline`` are
    (model config, hyperparameters, configuration)."""
    out = []
    for k, seed in enumerate(seeds, 1):
        out.append(PlannedRun(TUNED, k, k, seed, *tuned))
        if baseline is not None:
            out.append(PlannedRun(BASELINE, k, len(seeds) + k, seed, *baseline))
    return tuple(out)


# -- the test set ------------------------------------------------------------------


def describe_test_set(prepared) -> tuple[str, str]:
    """('official' | 'held-out', the words every table uses)."""
    test = prepared.test
    n_img = len(test)
    pts = {p for p in test.patients if p}
    who = f", {len(pts)} patients" if pts else ""
    if prepared.split.test_source == "official":
        name = ("C-NMC 2019 official preliminary test set" if prepared.index.layout == "cnmc"
                else "the dataset's own test set")
        if prepared.index.synthetic:  # the demo copies C-NMC's layout, not its patients
            name = (f"SYNTHETIC demo data (generated cells, not real patients) laid out as "
                    f"{'the ' + name if name.startswith('C-NMC') else name}")
        return "official", f"{name} ({n_img:,} images{who})"
    if prepared.split.leaky:
        return "held-out", (f"image-level held-out test part ({n_img:,} images{who}; LEAKY: "
                            "patients also in training)")
    kind = "patient-held-out" if pts else "held-out"
    return "held-out", f"{kind} test part ({n_img:,} images{who}), not used by the search"


def check_test_set(prepared) -> None:
    if prepared.split.test_source == "none" or len(prepared.test) == 0:
        raise DatasetError(
            "This split has no test part, so the runs could not be evaluated on unseen data. "
            "Use the dataset's official test set or give the split a test fraction."
        )
    counts = np.bincount(prepared.test.labels, minlength=len(prepared.classes))
    missing = [c for c, n in zip(prepared.classes, counts, strict=True) if n == 0]
    if missing:
        raise DatasetError(
            "The test set has no images of class " + ", ".join(f"'{m}'" for m in missing)
            + ", so sensitivity, specificity and AUC cannot be measured. Choose a split whose "
            "test part holds every class (a larger test fraction or another seed).",
            f"test images per class: {dict(zip(prepared.classes, counts.tolist(), strict=True))}",
        )


def check_search_split(prepared, tuned: Configuration, study_info: StudySummary) -> None:
    """A test part drawn from the training images must be the one the search
    left out: if the split (or image size) changed since, it may hold images
    the search trained or chose on."""
    from allgui.core.train.sources import training_data_from_prepared

    key = study_info.data_key
    if tuned.trial is None or not key or prepared.split.test_source == "official":
        return
    if training_data_from_prepared(prepared).key != key:
        raise DatasetError(
            "The split or image size has changed since the search, so the test part may hold "
            "images the search used to choose this configuration. Restore the project's split "
            "settings, or run a new search (with its own study name) on the new split.",
            f"search data key {key}; now {training_data_from_prepared(prepared).key}",
        )


def dataset_record(prepared) -> DatasetRecord:
    from allgui.core.dataset.summary import summarize as summarize_dataset

    summary = summarize_dataset(prepared.index, inspect=False).to_dict()
    summary.pop("per_patient", None)
    parts = {}
    for name in ("train", "val", "test"):
        part = prepared.part(name)
        counts = Counter(prepared.classes[int(v)] for v in part.labels)
        pts = {p for p in part.patients if p}
        parts[name] = PartCount({c: counts.get(c, 0) for c in prepared.classes},
                                len(pts) if pts else None)
    return DatasetRecord(
        root=str(prepared.index.root),
        layout=prepared.index.layout,
        synthetic=bool(prepared.index.synthetic),
        summary=summary,
        parts=parts,
        audit=prepared.audit.to_dict(),
        bad_files=len(prepared.index.bad_files) + len(prepared.bad_files),
    )


# -- planning a batch ---------------------------------------------------------------


def plan_batch(project: Project, settings: ValidationSettings, tuned: Configuration,
                baseline: Configuration | None, study_info: StudySummary, sink: Sink,
                cancel: threading.Event | None, prepared) -> tuple[BatchPlan, Batch, dict]:
    """The batch's plan, its record before any run, and the frozen backbones the
    runs share. Backbones are built here, before anything is written, so missing
    weights fail the batch cleanly."""
    from allgui.core.train.device import resolve_device
    from allgui.core.train.loop import build_seeded
    from allgui.core.train.sources import training_data_from_prepared

    check_test_set(prepared)
    check_search_split(prepared, tuned, study_info)
    classes = tuple(prepared.classes)
    positive = prepared.positive_class if prepared.positive_class in classes else classes[-1]
    test_source, test_set = describe_test_set(prepared)
    search = project.settings.search
    mode = settings.mode or str(search.get("mode") or "cached")
    tuned_cfg, tuned_hp = model_and_hparams(project, tuned.params, len(classes))
    if tuned_cfg.finetune_stages:
        mode = "online"
    views = (settings.epochs if settings.fresh_views
             else settings.views or int(search.get("views") or DEFAULT_VIEWS))
    feature_precision = settings.feature_precision or str(
        search.get("feature_precision") or "fp32")
    device = resolve_device(settings.device)
    seeds = tuple(settings.first_seed + k for k in range(settings.runs))
    base_cfg, base_hp = (model_and_hparams(project, baseline.params, len(classes))
                         if baseline else (None, None))
    # The search's seed built its (randomly initialised) backbone: the same one here.
    backbone_seed = study_info.seed if study_info.seed is not None else int(
        search.get("seed") or 0)
    shared: dict[str, Any] = {}
    for cfg in filter(None, (tuned_cfg, base_cfg)):
        if not cfg.finetune_stages and cfg.backbone not in shared:
            shared[cfg.backbone] = build_seeded(cfg, backbone_seed)
    from allgui.core.model.classifier import weights_tag
    from allgui.core.search.loop import search_train_settings
    from allgui.core.search.settings import SearchSettings
    from allgui.core.train.loop import class_weight_record, recipe

    train_settings = dataclasses.replace(
        search_train_settings(SearchSettings.from_project(project)),
        early_stopping_patience=settings.patience, views=views, features=settings.features,
        feature_precision=feature_precision)
    data = training_data_from_prepared(prepared)
    tuned_model = shared.get(tuned_cfg.backbone)
    training = {
        **recipe(train_settings, device), "epochs": settings.epochs,
        "views": views if mode == "cached" else None, "fresh_views": mode == "online" or views >= settings.epochs,
        "class_weights": class_weight_record(data.train_labels, classes),
        "weights_tag": (weights_tag(tuned_model, backbone_seed) if tuned_model is not None
                        else tuned_cfg.weights),
        "normalisation": ({"mean": list(tuned_model.mean), "std": list(tuned_model.std)}
                          if tuned_model is not None else {}),
        "protocol": project.settings.protocol, "baseline": baseline is not None,
        "probe": settings.probe and not tuned_cfg.finetune_stages,
    }

    runs_dir = project.runs_dir
    batch_id = new_batch_id()  # claimed (numbered when taken) by BatchWriter
    batch = Batch(
        batch_id=batch_id, folder=str((runs_dir / batch_id).resolve()), created=now_utc(),
        status="running",
        tuned=Configuration(recorded_params(tuned.params, tuned_cfg), tuned.source, tuned.trial),
        baseline=(Configuration(recorded_params(baseline.params, base_cfg), baseline.source)
                  if baseline else None),
        seeds=seeds, max_epochs=settings.epochs, patience=settings.patience,
        test_source=test_source, test_set=test_set, classes=classes, positive_class=positive,
        model=ModelRecord(tuned_cfg.backbone, tuned_cfg.weights, prepared.image_size, mode,
                          views, tuned_cfg.finetune_stages, not settings.independent_views,
                          train_settings.augmentation.probability, training),
        dataset_fingerprint=prepared.index.fingerprint(),
        split=SplitRecord.from_dict(prepared.split.to_dict()),
        environment=run_environment(str(device), mode, tuned_cfg, shared, prepared, settings,
                                     project, feature_precision),
        study=study_info,
        dataset=dataset_record(prepared),
    )
    plan = BatchPlan(
        runs=planned_runs(seeds, (tuned_cfg, tuned_hp, batch.tuned),
                          (base_cfg, base_hp, batch.baseline) if batch.baseline else None),
        runs_per_label=settings.runs, epochs=settings.epochs, mode=mode,
        train_settings=train_settings,
        device=device, cache_dir=project.cache_dir, data=data,
        test=TestSet.from_prepared(prepared, test_set), classes=classes, positive=positive,
        image_size=prepared.image_size, study_name=study_info.name,
        shared_views_seed=None if settings.independent_views else int(search.get("seed", 0)),
        project_root=str(project.root), referral_target=settings.referral_target,
        probe_features=settings.probe_features,
    )
    if mode == "cached" and settings.independent_views and not tuned_cfg.finetune_stages:
        sink(Notice(JOB, level="info", text=fresh_views_cost(
            len(plan.runs), views_read(views, settings.epochs), len(prepared.train.images))))
    return plan, batch, shared
