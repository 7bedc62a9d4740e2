"""An exported model file and what it says about itself.

allgui writes everything a classifier needs into the ONNX file's
``metadata_props`` (one key per item, each value JSON): the class names and
which one is "positive", the input size and normalisation, the decision
threshold, the metrics reached and on which test set, where the model came
from, and the research-use notice. :func:`read_model_info` reads them back
through onnxruntime alone and checks them against the graph, so a file that
would give wrong answers is refused with a plain message before any image is
classified.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allgui.core.errors import ModelFileError
from allgui.core.infer.training_data import METADATA_KEY as TRAINING_KEY
from allgui.core.infer.training_data import TrainingFingerprint
from allgui.core.model.card import ModelCard
from allgui.core.model.decision import DecisionRule, DecisionRuleError
from allgui.core.model.measures import CARD, shown_in

# Version of the metadata layout below; a newer file than this code knows is refused.
MODEL_FORMAT = 1
FORMAT_KEY = "allgui_format"

# Graph names the exporter writes and the classifier reads.
INPUT_NAME = "image"
OUTPUT_LOGITS = "logits"
OUTPUT_PROBABILITIES = "probabilities"
OUTPUT_CAM = "cam"
OUTPUT_FEATURES = "features"  # pooled backbone features (models exported since issue 28)

# The metrics a summary line shows first (all of them stay in the file).
HEADLINE_METRICS = shown_in(CARD)

# Keys that must be present; the others have defaults.
REQUIRED_KEYS = ("classes", "input_size", "mean", "std")


@dataclass(frozen=True)
class ModelInfo:
    """What an allgui ONNX model says about itself: its model card (classes,
    input size, provenance, metrics) and how to run it."""

    path: str
    card: ModelCard  # input_size: square side in pixels; images are resized to it
    mean: tuple[float, float, float]  # applied inside the graph, listed for the record
    std: tuple[float, float, float]
    decision_threshold: float  # binary models: the positive class wins at p >= this
    uncertain_margin: float  # a prediction with p_top - p_second below this is flagged
    heatmap_size: tuple[int, int]  # the feature map the Grad-CAM heatmap comes from
    backbone: str = ""
    allgui_version: str = ""
    created: str = ""  # ISO 8601, UTC
    research_notice: str = ""
    source: str = ""  # the checkpoint it was exported from
    selection: str = ""  # how the run was chosen among its batch's runs
    batch_metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # over runs
    interval_note: str = ""  # how the test intervals in batch_metrics were made
    # the training images' content hashes and feature reference (None: older files)
    training: TrainingFingerprint | None = None

    # The card's items under the names the classifier has always read.
    @property
    def classes(self) -> tuple[str, ...]:
        return self.card.classes

    @property
    def positive_class(self) -> str | None:
        return self.card.positive_class

    @property
    def input_size(self) -> int:
        return self.card.input_size

    @property
    def metrics(self) -> Mapping[str, float]:
        return self.card.metrics

    @property
    def test_set(self) -> str:  # what the metrics were measured on
        return self.card.provenance.test_set

    @property
    def study(self) -> str:
        return self.card.provenance.study

    @property
    def trial(self) -> int | None:
        return self.card.provenance.trial

    @property
    def run(self) -> int | None:
        return self.card.provenance.run

    @property
    def positive_index(self) -> int | None:
        return self.classes.index(self.positive_class) if self.positive_class else None

    @property
    def rule(self) -> DecisionRule:
        """The model's decision rule (threshold, margin, temperature), checked."""
        binary = self.positive_class is not None and len(self.classes) == 2
        return DecisionRule(self.positive_index if binary else None, self.decision_threshold,
                            self.uncertain_margin, self.card.temperature)

    def summary_lines(self) -> list[str]:
        """A short description for people, as the CLI and the window show it."""
        lines = [
            f"Model: {Path(self.path).name}",
            f"  classes: {', '.join(self.classes)}"
            + (f" (positive: {self.positive_class})"
               if self.positive_class and len(self.classes) == 2 else ""),
            f"  input: {self.input_size} x {self.input_size} px RGB"
            + (f", backbone {self.backbone}" if self.backbone else ""),
        ]
        if self.positive_class and len(self.classes) == 2:
            lines.append(
                f"  decision: '{self.positive_class}' when its probability >= "
                f"{self.decision_threshold:g}; flagged uncertain when the margin < "
                f"{self.uncertain_margin:g}"
            )
        else:
            lines.append(f"  flagged uncertain when the margin < {self.uncertain_margin:g}")
        if self.card.synthetic:
            lines.append("  SYNTHETIC: trained and tested on generated demo data, not real "
                         "cells; its figures say nothing about leukemia")
        if self.card.temperature != 1.0:
            lines.append(f"  probabilities calibrated: temperature {self.card.temperature:.3f} "
                         "(fitted on validation)")
        if self.metrics:
            keys = [k for k in HEADLINE_METRICS if k in self.metrics] or list(self.metrics)[:4]
            shown = ", ".join(f"{k} {self.metrics[k]:.3f}" for k in keys)
            lines.append(f"  metrics: {shown}" + (f" on {self.test_set}" if self.test_set else ""))
        lines += self._interval_lines()
        if self.selection:
            lines.append(f"  chosen: {self.selection}")
        origin = []
        if self.study:
            origin.append(f"study {self.study}")
        if self.trial is not None:
            origin.append(f"trial {self.trial}")
        if self.run is not None:
            origin.append(f"run {self.run}")
        if origin:
            lines.append("  from: " + ", ".join(origin))
        made = " ".join(x for x in (self.created, f"allgui {self.allgui_version}") if x.strip())
        lines.append(f"  exported: {made}")
        if self.research_notice:
            lines.append(f"  NOTE: {self.research_notice}")
        return lines


    def _interval_lines(self) -> list[str]:
        """This model's interval over its test images (the one to quote), then
        the batch's mean and spread over seeds, each named for what it resamples."""
        over = [(k, self.batch_metrics[k]) for k in HEADLINE_METRICS if k in self.batch_metrics]
        if not over:
            return []
        lines = []
        tested = [(k, v) for k, v in over if v.get("test_low") is not None]
        if tested:
            lines.append(f"  95% intervals over {self.interval_note or 'its test images'}"
                         ": " + ", ".join(f"{k} {v['test_low']:.3f}-{v['test_high']:.3f}"
                                           for k, v in tested))
        n = int(over[0][1].get("runs", 0))
        lines.append(f"  over the batch's {n} runs (same test images; training variation only): "
                     + ", ".join(
                         f"{k} mean {v['mean']:.3f}, seeds {v['ci_low']:.3f}-{v['ci_high']:.3f}"
                         if v.get("ci_low") is not None and n >= 3 else
                         f"{k} mean {v['mean']:.3f}" for k, v in over)
                     + ("" if n >= 3 else " (too few runs to say how much they vary)"))
        return lines


def encode_metadata(values: Mapping[str, Any]) -> dict[str, str]:
    """JSON-encode each metadata value, the way it is stored in the ONNX file."""
    out = {FORMAT_KEY: json.dumps(MODEL_FORMAT)}
    for key, value in values.items():
        out[key] = json.dumps(value)
    return out


def info_from_metadata(path: str, meta: Mapping[str, str]) -> ModelInfo:
    """Build a :class:`ModelInfo` from the raw ``metadata_props`` of an ONNX file."""
    name = Path(path).name
    if FORMAT_KEY not in meta:
        raise ModelFileError(
            f"{name} is an ONNX model, but not one exported by allgui: it carries no "
            "allgui metadata (class names, input size, normalisation). "
            "Export models with the Validate tab's 'Export model' button "
            "(or 'allgui export').",
            details=f"metadata keys found: {sorted(meta) or 'none'}",
        )
    try:
        values = {k: json.loads(v) for k, v in meta.items()}
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"The metadata inside {name} is damaged.", str(exc)) from exc
    version = values[FORMAT_KEY]
    if not isinstance(version, int) or version > MODEL_FORMAT:
        raise ModelFileError(
            f"{name} was exported by a newer allgui (model format {version}); "
            "update allgui to use it.",
        )
    missing = [k for k in REQUIRED_KEYS if k not in values]
    if missing:
        raise ModelFileError(
            f"The metadata inside {name} is incomplete (missing: {', '.join(missing)}).",
        )
    try:
        card = ModelCard.from_dict(values)
        classes, positive, size = card.classes, card.positive_class, card.input_size
        if size <= 0:
            raise ValueError(f"input_size {size!r}")
        mean = tuple(float(x) for x in values["mean"])
        std = tuple(float(x) for x in values["std"])
        if len(mean) != 3 or len(std) != 3:
            raise ValueError("mean and std need three values (R, G, B)")
        heatmap = tuple(int(x) for x in values.get("heatmap_size", (0, 0)))
        info = ModelInfo(
            path=str(path),
            card=card,
            mean=mean,
            std=std,
            decision_threshold=float(values.get("decision_threshold", 0.5)),
            uncertain_margin=float(values.get("uncertain_margin", 0.2)),
            heatmap_size=heatmap,  # type: ignore[arg-type]
            backbone=str(values.get("backbone", "")),
            allgui_version=str(values.get("allgui_version", "")),
            created=str(values.get("created", "")),
            research_notice=str(values.get("research_notice", "")),
            source=str(values.get("source", "")),
            selection=str(values.get("selection") or ""),
            batch_metrics={str(k): {str(a): float(b) for a, b in v.items() if b is not None}
                           for k, v in (values.get("batch_metrics") or {}).items()},
            interval_note=str(values.get("interval_note") or ""),
            training=TrainingFingerprint.from_dict(values.get(TRAINING_KEY)),
        )
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise ModelFileError(f"The metadata inside {name} is damaged.", str(exc)) from exc
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise ModelFileError(f"The metadata inside {name} lists invalid classes: {classes}.")
    if positive is not None and positive not in classes:
        raise ModelFileError(
            f"The metadata inside {name} names '{positive}' as positive, "
            f"which is not one of its classes ({', '.join(classes)})."
        )
    try:  # the decision rule is checked when read, before any image is classified
        info.rule  # noqa: B018
        if info.uncertain_margin >= 1:
            raise DecisionRuleError(f"the uncertainty margin must be below 1, not "
                                    f"{info.uncertain_margin:g}")
    except DecisionRuleError as exc:
        raise ModelFileError(f"The metadata inside {name} is damaged or was altered: {exc}; "
                             "allgui does not use this model.") from exc
    return info


def check_graph(info: ModelInfo, inputs: list, outputs: list) -> None:
    """Check the graph's input and outputs against the metadata.

    ``inputs`` / ``outputs`` are onnxruntime ``NodeArg`` lists (``name``,
    ``shape``, ``type``).
    """
    name = Path(info.path).name
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME:
        raise ModelFileError(
            f"{name} does not take one '{INPUT_NAME}' input as allgui models do.",
            details=f"inputs: {[i.name for i in inputs]}",
        )
    arg = inputs[0]
    if arg.type != "tensor(uint8)":
        raise ModelFileError(
            f"{name} expects {arg.type} input; allgui models take 8-bit images.",
        )
    shape = list(arg.shape)
    if len(shape) != 4 or shape[3] != 3:
        raise ModelFileError(
            f"{name} expects input of shape {shape}; allgui models take "
            "images as (batch, height, width, 3).",
        )
    height, width = shape[1], shape[2]
    if (height, width) != (info.input_size, info.input_size):
        raise ModelFileError(
            f"{name} takes {height} x {width} px images but its metadata says "
            f"{info.input_size} x {info.input_size}: the file was altered or damaged.",
        )
    have = {o.name: o for o in outputs}
    for needed in (OUTPUT_PROBABILITIES, OUTPUT_CAM):
        if needed not in have:
            raise ModelFileError(
                f"{name} lacks the '{needed}' output allgui models have.",
                details=f"outputs: {sorted(have)}",
            )
    if info.card.temperature != 1.0 and OUTPUT_LOGITS not in have:
        raise ModelFileError(
            f"{name} is calibrated (temperature {info.card.temperature:g}) but lacks the "
            f"'{OUTPUT_LOGITS}' output the calibration is applied to.",
            details=f"outputs: {sorted(have)}",
        )
    n_classes = have[OUTPUT_PROBABILITIES].shape[-1]
    if isinstance(n_classes, int) and n_classes != len(info.classes):
        raise ModelFileError(
            f"{name} gives {n_classes} probabilities but its metadata names "
            f"{len(info.classes)} classes.",
        )


def metadata_of(session: Any, path: str) -> dict[str, str]:
    try:
        return dict(session.get_modelmeta().custom_metadata_map)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelFileError(f"Cannot read the metadata of {Path(path).name}.", str(exc)) from exc
