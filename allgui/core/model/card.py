"""The model card: what a trained model tells and where it came from.

One frozen :class:`ModelCard` (classes, positive class, input size, the
synthetic-data flag, :class:`Provenance`, test-set metrics) travels with a
model: the validation runner writes it into each checkpoint, the exporter
carries it into the ONNX file's metadata, and the classifier reads it back
(:attr:`allgui.core.infer.model_file.ModelInfo.card`). Its stored form is
flat, one key per item (:data:`KEYS`), the keys older allgui versions wrote
too, so their files still read; ``trial = -1``, which they wrote for "no
trial", reads as None.

Standard library only: the classifier imports it and never imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from allgui.core.model.measures import name_of


@dataclass(frozen=True)
class Provenance:
    """Where a model came from (empty or None: not known)."""

    project: str = ""  # the project folder
    dataset: str = ""  # the dataset folder
    split_method: str = ""  # 'patient', 'cnmc-folds' or 'image'
    study: str = ""
    trial: int | None = None  # the study's trial it trains; None: not from a trial
    run: int | None = None  # its run in the validation batch
    seed: int | None = None
    test_set: str = ""  # what the metrics were measured on, in words


@dataclass(frozen=True)
class ModelCard:
    """What a trained model is, where it came from and what it reached."""

    classes: tuple[str, ...] = ()
    positive_class: str | None = None
    input_size: int = 0  # square side in pixels; 0 = not known
    synthetic: bool = False  # trained on generated demo data, not on patients
    provenance: Provenance = field(default_factory=Provenance)
    metrics: Mapping[str, float] = field(default_factory=dict)  # test-set figures
    # Temperature scaling fitted on validation: the classifier reports
    # softmax(logits / temperature); 1.0 = the raw outputs (older files).
    temperature: float = 1.0
    # The "uncertain" margin chosen on validation for a target accuracy on the
    # cells not flagged (validation.referral); None = not chosen.
    uncertain_margin: float | None = None
    # How it was trained: the protocol, augmentation, precision, validation loss,
    # class weights, the weights' exact tag (allgui.core.train.loop.recipe and
    # the batch's record); empty in older files.
    training: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The flat, JSON-ready form stored in checkpoints and ONNX metadata."""
        p = self.provenance
        return {
            "classes": list(self.classes),
            "positive_class": self.positive_class,
            "input_size": self.input_size,
            "synthetic": self.synthetic,
            "project": p.project,
            "dataset": p.dataset,
            "split_method": p.split_method,
            "study": p.study,
            "trial": p.trial,
            "run": p.run,
            "seed": p.seed,
            "test_set": p.test_set,
            "metrics": dict(self.metrics),
            "temperature": self.temperature,
            "chosen_margin": self.uncertain_margin,
            "training": dict(self.training),
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ModelCard:
        """The card in ``values`` (other keys ignored, missing ones empty).

        Raises ValueError or TypeError for a value of the wrong kind; metrics
        that are not numbers are left out.
        """
        positive = values.get("positive_class")
        size = values.get("input_size") or 0
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"input_size {size!r}")
        metrics = values.get("metrics") or {}
        if not isinstance(metrics, Mapping):
            raise TypeError(f"metrics must be a table, not {type(metrics).__name__}")
        return cls(
            classes=tuple(str(c) for c in values.get("classes") or ()),
            positive_class=None if positive is None else str(positive),
            input_size=size,
            synthetic=_flag(values.get("synthetic", False)),
            provenance=Provenance(
                project=_text(values.get("project")),
                dataset=_text(values.get("dataset")),
                split_method=_text(values.get("split_method")),
                study=_text(values.get("study")),
                trial=_number(values.get("trial"), none_below=0),
                run=_number(values.get("run"), none_below=0),
                seed=_number(values.get("seed")),
                test_set=_text(values.get("test_set")),
            ),
            metrics={name_of(str(k)): float(v) for k, v in metrics.items()
                     if isinstance(v, (int, float)) and not isinstance(v, bool)},
            temperature=_temperature(values.get("temperature", 1.0)),
            uncertain_margin=_margin(values.get("chosen_margin")),
            training=_table(values.get("training")),
        )


KEYS: tuple[str, ...] = tuple(ModelCard().to_dict())
"""The keys a card is stored under."""


def _temperature(value: Any) -> float:
    """A positive, finite temperature (a model must never divide by 0 or NaN)."""
    if value is None:
        return 1.0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"temperature {value!r} is not a number")
    t = float(value)
    if not math.isfinite(t) or t <= 0:
        raise ValueError(f"temperature {value!r} must be a positive number")
    return t


def _margin(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"margin {value!r} is not a number")
    if not 0 <= float(value) <= 1:
        raise ValueError(f"margin {value!r} must be between 0 and 1")
    return float(value)


def _table(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"training must be a table, not {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"synthetic must be true or false, not {value!r}")
    return value


def _number(value: Any, none_below: int | None = None) -> int | None:
    """A whole number, or None; below ``none_below`` counts as None (older
    files wrote trial -1 for "no trial")."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"{value!r} is not a whole number")
    number = int(value)
    if isinstance(value, float) and number != value:
        raise ValueError(f"{value!r} is not a whole number")
    return None if none_below is not None and number < none_below else number
