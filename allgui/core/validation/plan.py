"""What a validation batch will run: its runs in order, the test set, and
what every run shares (mode, device, data), as frozen values.

Built by :func:`~allgui.core.validation.run.run_batch` once the configuration
is chosen and the test set checked; the runs then only read it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from allgui.core.errors import DatasetError
from allgui.core.validation.batch import BASELINE, TUNED, Configuration
from allgui.core.validation.provenance import DatasetRecord, PartCount, StudySummary

if TYPE_CHECKING:
    import torch

    from allgui.core.model.classifier import ModelConfig
    from allgui.core.train.loop import HyperParams, TrainSettings
    from allgui.core.train.sources import TrainingData

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
