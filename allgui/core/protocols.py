"""The two named protocols a project can follow, as data: ``paper`` (the
published study's method as written) and ``recommended`` (allgui's own
choices, each with its reason), and the study's method as a stored
description the report compares a run against.

A protocol is a set of values for project settings (``[split]``,
``[search]`` and ``[validation]`` in project.toml), chosen when a project is
made (``allgui new --protocol``, File > New) and applied again as one setting
(``allgui protocol``). Where the study's text is ambiguous the ``paper``
protocol takes the most literal reading and says so in :attr:`Choice.reading`.

Standard library only: the project, the search, the validation and the
report read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PAPER, RECOMMENDED = "paper", "recommended"
NAMES = (PAPER, RECOMMENDED)
DEFAULT = RECOMMENDED


@dataclass(frozen=True)
class Choice:
    """One setting the protocols give a value: ``key`` is 'section.name' in project.toml."""

    key: str
    label: str
    paper: Any
    recommended: Any
    study: str  # what the study says, in its own terms
    reason: str  # why allgui recommends its value, one sentence
    reading: str = ""  # where the study is ambiguous: the reading ``paper`` takes, and why

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]

    def value(self, protocol: str) -> Any:
        return self.paper if protocol == PAPER else self.recommended


AUGMENT_RANGES = "rotation 15 degrees, shifts 10 %, shear 10 %, zoom 10 %, horizontal flip"

CHOICES: tuple[Choice, ...] = (
    Choice("split.method", "Split", "image", "patient",
           "images split at random into training, validation and test parts",
           "a patient's cells on both sides of a split make validation accuracy optimistic "
           "(the study reported 96.86 % on validation and 86.72 % on its test set)."),
    Choice("search.trials", "Trials", 20, 20, "20 Optuna trials",
           "the study's budget, kept so that the two protocols compare."),
    Choice("search.epochs", "Epochs per trial", 10, 10, "10 epochs per trial",
           "the study's budget, kept so that the two protocols compare."),
    Choice("search.views", "Augmented views per image (search)", 10, 10,
           "a fresh augmentation draw every epoch (Keras' ImageDataGenerator)",
           "10 views cover the search's 10 epochs: every epoch sees a fresh draw."),
    Choice("search.startup_trials", "Random start trials", 10, 10,
           "Optuna's TPE sampler with its default options (10 random start trials)",
           "Optuna's default, kept."),
    Choice("search.multivariate", "Multivariate TPE", False, True,
           "Optuna's TPE sampler with its default options (independent, not multivariate)",
           "a multivariate TPE models the parameters jointly rather than one at a time, so "
           "it can follow a learning rate and dropout that work only together."),
    Choice("search.objective", "Objective", "accuracy", "accuracy",
           "validation accuracy", "the study's objective, kept so that the two compare."),
    Choice("search.pruning", "Pruning", "none", "none", "no pruning",
           "every trial trains its full 10 epochs, as in the study."),
    Choice("search.augment_probability", "Share of images transformed", 1.0, 0.5,
           "every training image augmented (" + AUGMENT_RANGES + ")",
           "with a frozen backbone the head is scored on plain images, and bilinear "
           "resampling moves their features, so half the draws are left exact (on the "
           "shared real set the untuned head's validation loss fell from 0.12 to 0.04; on "
           "ALL-IDB2 one tuned trial did better at 1.0, so the report always says which ran).",
           "Keras' ImageDataGenerator transforms every image it yields, so probability 1.0."),
    Choice("search.augment_rotation", "Rotation range (degrees)", 15.0, 15.0,
           "rotation 15 degrees", "the study's range."),
    Choice("search.augment_shift", "Shift range (share of width and height)", 0.1, 0.1,
           "width and height shifts 10 %", "the study's range."),
    Choice("search.augment_shear", "Shear range (shear factor)", 0.1, 0.1, "shear 10 %",
           "the study's range.",
           "'shear 10 %' is read as a shear factor of 0.1 (about 5.7 degrees); Keras reads "
           "shear_range in degrees, where 0.1 would do nothing, which cannot be meant."),
    Choice("search.augment_zoom", "Zoom range", 0.1, 0.1, "zoom 10 %",
           "the study's range.", "zoom drawn in [0.9, 1.1] per axis, as Keras draws it."),
    Choice("search.augment_flip", "Horizontal flip", True, True, "horizontal flip",
           "the study's flip."),
    Choice("search.precision", "Precision on a GPU", "fp16", "bf16",
           "mixed precision on the GPU",
           "bf16 keeps fp32's range, so no loss scaling is needed and small gradients "
           "never underflow; a CPU computes in fp32 under either protocol.",
           "Keras' mixed precision is float16 ('mixed_float16'), so fp16 with loss scaling."),
    Choice("search.val_loss", "Validation loss", "weighted", "unweighted",
           "class-weighted cross-entropy",
           "an unweighted validation loss (as Keras' class_weight leaves it) measures the "
           "validation images as they are, without the training part's class balance.",
           "the study names one loss, class-weighted cross-entropy, so the validation loss "
           "that early stopping and the scheduler watch is weighted the same way."),
    Choice("search.trial_value", "Value of a trial", "kept_epoch", "kept_epoch",
           "the trial's validation accuracy",
           "the value belongs to the weights a run keeps (those of its lowest validation "
           "loss), not to a lucky epoch.",
           "the study reports each trial's validation accuracy and stops early on validation "
           "loss, so the value is the accuracy at the epoch whose weights are kept."),
    Choice("validation.runs", "Final runs", 3, 3, "3 runs", "the study's number, kept."),
    Choice("validation.epochs", "Epochs per final run", 40, 40, "40 epochs",
           "the study's number, kept."),
    Choice("validation.patience", "Early stopping patience", 10, 10,
           "early stopping after 10 epochs without a better validation loss",
           "the study's patience, kept."),
    Choice("validation.views", "Augmented views per image (final runs)", "fresh", "search",
           "a fresh augmentation draw every epoch",
           "reusing the search's 10 views costs a quarter of the backbone passes of 40 on a "
           "CPU; each view is then seen 4 times in 40 epochs, which the report says."),
    Choice("validation.baseline", "Baseline runs", "none", "default", "no baseline",
           "untuned defaults trained on the same seeds show what the search gained, "
           "with a paired test."),
    Choice("validation.probe", "Linear probe", False, True, "no linear probe",
           "a logistic regression on the same frozen features shows whether the MLP head "
           "adds anything."),
)

BY_KEY = {c.key: c for c in CHOICES}


@dataclass(frozen=True)
class Fixed:
    """Part of the study's method that allgui always follows (no setting): the
    report compares it with what a run recorded."""

    key: str
    label: str
    study: str


FIXED: tuple[Fixed, ...] = (
    Fixed("preprocessing", "Preprocessing", "resized to 224 x 224 pixels with area averaging "
          "(OpenCV INTER_AREA)"),
    Fixed("backbone", "Backbone", "EfficientNet-B2, frozen"),
    Fixed("head", "Head", "global average pooling, dropout, dense + ReLU, dropout, dense "
          "(softmax)"),
    Fixed("optimizer", "Optimiser", "AdamW (betas 0.9, 0.999; eps 1e-8)"),
    Fixed("scheduler", "Learning-rate schedule", "ReduceLROnPlateau on validation loss "
          "(patience 5, factor 0.1)"),
    Fixed("loss", "Training loss", "class-weighted cross-entropy"),
)

# What no setting can make equal to the study: always in the deviation table.
UNMATCHED: tuple[tuple[str, str, str], ...] = (
    ("Framework", "TensorFlow / Keras",
     "allgui is built on PyTorch and timm; layer defaults (padding, batch-norm epsilon) and "
     "random streams differ, so the same settings cannot give the same numbers."),
    ("ImageNet weights", "Keras' EfficientNetB2 ImageNet weights",
     "allgui loads backbone weights through timm, and the study's Keras weights file is not "
     "among them, so the frozen features cannot be shown to equal the study's."),
)


@dataclass(frozen=True)
class Protocol:
    name: str
    title: str
    summary: str

    def values(self) -> dict[str, dict[str, Any]]:
        """The protocol's settings by project.toml section."""
        out: dict[str, dict[str, Any]] = {}
        for c in CHOICES:
            out.setdefault(c.section, {})[c.name] = c.value(self.name)
        return out

    def describe(self) -> list[str]:
        """The protocol in words, one line per setting (reason or reading)."""
        lines = [f"{self.title}: {self.summary}"]
        for c in CHOICES:
            value = c.value(self.name)
            why = (c.reading or f"the study: {c.study}") if self.name == PAPER else c.reason
            lines.append(f"- {c.label}: {words(value)} ({why})")
        return lines


PROTOCOLS = {
    PAPER: Protocol(PAPER, "The study's protocol",
                    "the published study's method as written (Optuna TPE over a frozen "
                    "EfficientNet-B2 and an MLP head), its ambiguities read literally."),
    RECOMMENDED: Protocol(RECOMMENDED, "allgui's recommended protocol",
                          "the study's method with allgui's choices where it differs, each "
                          "with its reason (patient split, baselines, a probe, half the "
                          "augmentation draws exact)."),
}


def protocol(name: str) -> Protocol:
    """The protocol named ``name``; ValueError naming the choices otherwise."""
    if name not in PROTOCOLS:
        raise ValueError(f"'{name}' is not a protocol allgui knows; choose "
                         f"{' or '.join(NAMES)}.")
    return PROTOCOLS[name]


def words(value: Any) -> str:
    """A protocol value as the report writes it."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
