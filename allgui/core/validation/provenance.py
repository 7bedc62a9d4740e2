"""What a validation batch records about where its runs came from: the
model trained, the split, the dataset and the study (frozen records with
``to_dict``/``from_dict``; ``batch.json`` files written before they existed
still read, missing items empty), and the model card each run's checkpoint
carries.

The dataset's summary and leakage audit stay in the plain form their own
modules write (:meth:`allgui.core.dataset.summary.DatasetSummary.to_dict`,
:meth:`allgui.core.dataset.leakage.LeakageAudit.to_dict`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from allgui.core.model.card import ModelCard, Provenance

if TYPE_CHECKING:
    from allgui.core.validation.batch import Batch
    from allgui.core.validation.run_record import Configuration


@dataclass(frozen=True)
class ModelRecord:
    """The model the batch's tuned runs trained, and how."""

    backbone: str = ""
    weights: str = ""
    image_size: int = 0
    mode: str = ""  # 'cached' or 'online'
    views: int = 0  # augmented views per image (cached mode)
    finetune_stages: int = 0
    shared_views: bool = False  # the runs reused the search's augmented views (no new pass)
    # Chance that an image of a view was transformed (else only flipped); batches
    # written before it was recorded transformed every image, as the paper did.
    augment_probability: float = 1.0
    # How the runs trained (allgui.core.train.loop.recipe): optimiser, scheduler,
    # augmentation, precision, validation loss; class weights by class; the weights'
    # exact tag; the protocol the project followed. Empty in older batches.
    training: Mapping[str, Any] = field(default_factory=dict)

    def views_note(self) -> str:
        """What the runs' augmentation was and cost, in words for the report."""
        return self._cost_note() + " " + self._draws_note()

    def _draws_note(self) -> str:
        if self.augment_probability >= 1.0:
            return "Every training image was transformed (the paper's augmentation)."
        return (f"Each training image was transformed with probability "
                f"{self.augment_probability:g} and otherwise only flipped, so that the head "
                "also trains on the plain images' features it is scored on.")

    def _cost_note(self) -> str:
        if self.mode != "cached":
            return ("Each run augmented the images and ran the backbone every epoch "
                    "(online mode).")
        epochs = int(self.training.get("epochs") or 0)
        if epochs > self.views and not self.shared_views:
            return (f"Each run drew its own {self.views} augmented views and trained up to "
                    f"{epochs} epochs, so each view was used about {epochs / self.views:.3g} "
                    "times (not a fresh draw every epoch); the spread over runs includes "
                    "the augmentation draws.")
        if self.shared_views:
            return (f"The runs shared the search's {self.views} augmented views: no new "
                    "backbone pass (fast), but every run saw the same augmentation draws, so "
                    "the spread over runs leaves that source of variation out.")
        return (f"Each run drew its own {self.views} augmented views: one new backbone pass "
                "per run (on a CPU most of a validation's time), so the spread over runs "
                "includes the augmentation draws.")

    def to_dict(self) -> dict[str, Any]:
        return {"backbone": self.backbone, "weights": self.weights,
                "image_size": self.image_size, "mode": self.mode, "views": self.views,
                "finetune_stages": self.finetune_stages, "shared_views": self.shared_views,
                "augment_probability": self.augment_probability,
                "training": dict(self.training)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelRecord:
        return cls(str(data.get("backbone", "")), str(data.get("weights", "")),
                   int(data.get("image_size", 0)), str(data.get("mode", "")),
                   int(data.get("views", 0)), int(data.get("finetune_stages", 0)),
                   bool(data.get("shared_views", False)),
                   float(data.get("augment_probability", 1.0)),
                   dict(data.get("training") or {}))


@dataclass(frozen=True)
class SplitRecord:
    """The split the runs trained and were tested on (see :class:`~allgui.core.dataset.splits.Split`)."""

    method: str = ""
    seed: int | None = None
    leaky: bool = False
    test_source: str = ""  # 'official', 'held-out' or 'none'
    val_fraction: float = 0.0
    test_fraction: float = 0.0
    sizes: Mapping[str, int] = field(default_factory=dict)  # images per part
    fold_names: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "seed": self.seed, "leaky": self.leaky,
                "test_source": self.test_source, "val_fraction": self.val_fraction,
                "test_fraction": self.test_fraction, "sizes": dict(self.sizes),
                "fold_names": list(self.fold_names), "warnings": list(self.warnings)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SplitRecord:
        seed = data.get("seed")
        return cls(
            method=str(data.get("method", "")), seed=None if seed is None else int(seed),
            leaky=bool(data.get("leaky", False)), test_source=str(data.get("test_source", "")),
            val_fraction=float(data.get("val_fraction", 0.0)),
            test_fraction=float(data.get("test_fraction", 0.0)),
            sizes={str(k): int(v) for k, v in (data.get("sizes") or {}).items()},
            fold_names=tuple(str(n) for n in data.get("fold_names") or ()),
            warnings=tuple(str(w) for w in data.get("warnings") or ()),
        )


@dataclass(frozen=True)
class PartCount:
    """Images per class in one part of the split, and its patients (None: unknown)."""

    images: Mapping[str, int] = field(default_factory=dict)
    patients: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"images": dict(self.images),
                "patients": "unknown" if self.patients is None else self.patients}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PartCount:
        patients = data.get("patients")
        return cls({str(k): int(v) for k, v in (data.get("images") or {}).items()},
                   patients if isinstance(patients, int) else None)


@dataclass(frozen=True)
class DatasetRecord:
    """The dataset behind the batch, as the report's audit shows it."""

    root: str = ""
    layout: str = ""
    synthetic: bool = False  # generated demo data
    summary: Mapping[str, Any] = field(default_factory=dict)  # DatasetSummary.to_dict()
    parts: Mapping[str, PartCount] = field(default_factory=dict)  # train, val, test
    audit: Mapping[str, Any] = field(default_factory=dict)  # LeakageAudit.to_dict()
    bad_files: int = 0

    @property
    def empty(self) -> bool:
        """True for a batch written before the dataset was recorded."""
        return self == DatasetRecord()

    def to_dict(self) -> dict[str, Any]:
        if self.empty:
            return {}
        return {"root": self.root, "layout": self.layout, "synthetic": self.synthetic,
                "summary": dict(self.summary),
                "parts": {k: p.to_dict() for k, p in self.parts.items()},
                "audit": dict(self.audit), "bad_files": self.bad_files}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetRecord:
        return cls(
            root=str(data.get("root", "")), layout=str(data.get("layout", "")),
            synthetic=bool(data.get("synthetic", False)),
            summary=dict(data.get("summary") or {}),
            parts={str(k): PartCount.from_dict(v) for k, v in (data.get("parts") or {}).items()},
            audit=dict(data.get("audit") or {}), bad_files=int(data.get("bad_files", 0)),
        )


@dataclass(frozen=True)
class StudySummary:
    """The study the tuned configuration came from (empty: entered by hand, no study)."""

    name: str = ""
    direction: str = ""  # 'maximize' or 'minimize'
    objective: str = ""  # in words, e.g. 'validation accuracy'
    data_key: str = ""  # the data the search trained on (split and image size)
    seed: int | None = None  # the search's seed: a randomly initialised backbone is its

    def to_dict(self) -> dict[str, Any]:
        if self == StudySummary():
            return {}
        return {"name": self.name, "direction": self.direction, "objective": self.objective,
                "data_key": self.data_key, "seed": self.seed}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudySummary:
        seed = data.get("seed")
        return cls(str(data.get("name", "")), str(data.get("direction", "")),
                   str(data.get("objective", "")), str(data.get("data_key") or ""),
                   seed if isinstance(seed, int) and not isinstance(seed, bool) else None)


def run_card(batch: Batch, conf: Configuration, run: int, seed: int,
             metrics: Mapping[str, Any], project: str, temperature: float = 1.0,
             uncertain_margin: float | None = None) -> ModelCard:
    """The model card of run ``run`` (seed ``seed``) of ``batch``, trained on
    ``conf`` in the project folder ``project``, with its test figures."""
    return ModelCard(
        classes=tuple(batch.classes), positive_class=batch.positive_class,
        input_size=batch.model.image_size, synthetic=batch.dataset.synthetic,
        provenance=Provenance(
            project=project, dataset=batch.dataset.root, split_method=batch.split.method,
            study=batch.study.name, trial=conf.trial, run=run, seed=seed,
            test_set=batch.test_set),
        metrics={k: float(v) for k, v in metrics.items()
                 if isinstance(v, (int, float)) and not isinstance(v, bool)},
        temperature=temperature,
        uncertain_margin=uncertain_margin,
        training=dict(batch.model.training),
    )
