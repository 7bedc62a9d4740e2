"""What ``evaluate`` checks besides the figures, so a user is told when they
say less than they seem to:

- images the model already saw (the same content as a training or
  validation image, by the hashes the model file carries): counted, and left
  out of the figures unless the user keeps them;
- images unlike the training data: each image's distance to the training
  images in the model's feature space, against the distances of held-out
  validation images (the yardstick the model file carries);
- the figures a model with no skill reaches: always answering the most
  common class, and chance (balanced accuracy 1/k, AUC 0.5);
- the model's own internal test figures, for side-by-side reading.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from allgui.core.files.text import count
from allgui.core.infer.model_file import ModelInfo
from allgui.core.infer.training_data import FeatureReference

# More than this share of images beyond the 99th percentile of held-out
# validation images (1% expected) reads as data unlike the training data.
OOD_SHARE = 0.10


@dataclass(frozen=True)
class DistanceCheck:
    """How far the images lie from the training images, in the model's features."""

    images: int
    median: float
    reference_p99: float  # of held-out validation images
    reference_max: float
    beyond_p99: int
    beyond_max: int
    warning: str = ""

    def to_dict(self) -> dict:
        return dict(vars(self))


@dataclass(frozen=True)
class Baselines:
    """What no skill scores on these images."""

    majority_class: str
    majority_accuracy: float  # always answering the most common class
    chance_balanced_accuracy: float  # 1 / classes
    chance_auc: float = 0.5

    def to_dict(self) -> dict:
        return dict(vars(self))


@dataclass(frozen=True)
class Checks:
    seen: int = 0  # images with the content of a training or validation image
    seen_left_out: bool = True
    known: bool = False  # the model file lists its training images
    distance: DistanceCheck | None = None
    baselines: Baselines | None = None
    internal: Mapping[str, tuple[float, float | None, float | None]] = field(default_factory=dict)
    internal_set: str = ""
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"seen_images": self.seen, "seen_left_out": self.seen_left_out,
                "training_images_known": self.known,
                "distance": self.distance.to_dict() if self.distance else None,
                "baselines": self.baselines.to_dict() if self.baselines else None,
                "internal": {k: list(v) for k, v in self.internal.items()},
                "internal_test_set": self.internal_set, "warnings": list(self.warnings)}


def distance_check(features: np.ndarray, reference: FeatureReference) -> DistanceCheck:
    d = reference.distances(features)
    p99, top = reference.reference[99], reference.reference[100]
    beyond, far = int((d > p99).sum()), int((d > top).sum())
    warning = ""
    if d.size and beyond > OOD_SHARE * d.size:
        warning = (
            f"Out of distribution: {beyond} of {d.size} images ({beyond / d.size:.0%}) lie "
            "farther from the training images (in the model's own features) than 99% of "
            f"held-out validation images did ({far} farther than any of them). These images "
            "are unlike what the model learnt from (another stain, scanner or cell type?): "
            "its figures here may not carry over, and its answers should not be trusted.")
    return DistanceCheck(int(d.size), float(np.median(d)) if d.size else float("nan"), p99,
                         top, beyond, far, warning)


def baselines(labels: np.ndarray, classes: tuple[str, ...]) -> Baselines:
    counts = np.bincount(labels, minlength=len(classes))
    top = int(counts.argmax())
    return Baselines(classes[top], float(counts[top] / counts.sum()), 1.0 / len(classes))


def skill_warnings(head: Mapping[str, float], intervals: Mapping[str, tuple], base: Baselines
                   ) -> list[str]:
    """Plain warnings when the model does no better than no skill would."""
    out = []
    low = intervals.get("balanced_accuracy", (None, None))[0]
    auc_low = intervals.get("auc_roc", (None, None))[0]
    if (low is not None and low <= base.chance_balanced_accuracy) or \
            (auc_low is not None and auc_low <= base.chance_auc):
        out.append(
            "At chance: the interval of the balanced accuracy or the AUC reaches what guessing "
            f"scores (balanced accuracy {base.chance_balanced_accuracy:.2f}, AUC 0.50), so "
            "these images give no evidence that the model can tell the classes apart.")
    acc = head.get("accuracy")
    if acc is not None and acc <= base.majority_accuracy:
        out.append(
            f"Below the majority class: always answering '{base.majority_class}' would score "
            f"accuracy {base.majority_accuracy:.3f} on these images; the model scores "
            f"{acc:.3f}.")
    return out


def internal_figures(info: ModelInfo) -> dict[str, tuple[float, float | None, float | None]]:
    """The model's own test figures (its card), with the interval over its test
    images where the file carries one."""
    out = {}
    for key, value in info.metrics.items():
        b = info.batch_metrics.get(key, {})
        out[key] = (float(value), b.get("test_low"), b.get("test_high"))
    return out


def seen_words(checks: Checks, total: int) -> str:
    """What the seen-image check found, in words ('' when it could not run)."""
    if not checks.known:
        return ("The model file does not list its training images (exported before allgui "
                "recorded them), so images it was trained on cannot be recognised.")
    if not checks.seen:
        return "None of these images is one the model was trained or validated on."
    what = (f"{count(checks.seen, 'image')} of {total} have the same content as images the "
            "model was trained or validated on")
    if checks.seen_left_out:
        return (f"{what}: left out of every figure (a model scored on its own training data "
                "says nothing about new data). Keep them with --include-seen.")
    return (f"{what}: kept in the figures at the user's request, so the figures overstate "
            "how the model does on new data.")


NO_SKILL = {"accuracy": "majority", "balanced_accuracy": "chance", "auc_roc": "chance"}


def no_skill(key: str, base: Baselines | None) -> float | None:
    """What a model with no skill scores on figure ``key`` (None: not shown)."""
    if base is None:
        return None
    return {"accuracy": base.majority_accuracy,
            "balanced_accuracy": base.chance_balanced_accuracy,
            "auc_roc": base.chance_auc}.get(key)


def side_by_side(keys, head: Mapping[str, float], intervals: Mapping[str, tuple],
                 checks: Checks, names: Mapping[str, str] | None = None
                 ) -> tuple[list[str], list[list[str]]]:
    """Header and rows: each figure here, on the model's own test set, and
    what no skill scores (the majority class for accuracy, chance otherwise)."""
    from allgui.core.validation.stats import format_interval, format_value

    header = ["Figure", "These images", "95% interval", "Model's own test set", "95% interval",
              "No skill"]
    rows = []
    for key in keys:
        if head.get(key) is None:
            continue
        own = checks.internal.get(key)
        ns = no_skill(key, checks.baselines)
        label = ("always '" + checks.baselines.majority_class + "'"
                 if key == "accuracy" and checks.baselines else "chance")
        rows.append([(names or {}).get(key, key), format_value(head[key]),
                     format_interval(*intervals.get(key, (None, None))),
                     format_value(own[0]) if own else "-",
                     format_interval(own[1], own[2]) if own and own[1] is not None else "-",
                     f"{format_value(ns, 3)} ({label})" if ns is not None else "-"])
    return header, rows


def check_lines(checks: Checks, total: int) -> list[str]:
    """Every check's outcome as sentences: seen images, distance, warnings."""
    lines = [seen_words(checks, total + (checks.seen if checks.seen_left_out else 0))]
    d = checks.distance
    if d is not None:
        lines.append(f"Distance to the training images (model features): median {d.median:.3f}; "
                     f"held-out validation images reach {d.reference_p99:.3f} at their 99th "
                     f"percentile and {d.reference_max:.3f} at most; {d.beyond_p99} of "
                     f"{d.images} images lie beyond the 99th percentile.")
    else:
        lines.append("The model file carries no record of its training images' features "
                     "(exported before allgui recorded them), so images unlike them cannot "
                     "be recognised.")
    lines += [f"WARNING: {w}" for w in checks.warnings]
    return lines
