"""The one decision rule: how a model's probabilities become an answer.

A binary model with a positive class calls it when its probability reaches
the threshold stored in the model (``allgui export --threshold``); any other
model answers its most probable class. An answer whose top two
probabilities differ by less than the margin is flagged uncertain. The
probabilities are the calibrated ones (softmax of logits / temperature).
``classify``, ``evaluate``, the mistakes gallery and the reports all decide
through :meth:`DecisionRule.predict`, so one model never gives two answers.

Torch-free: the classifier (``allgui.core.infer``) uses it too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


class DecisionRuleError(ValueError):
    """A threshold, margin or temperature no model may carry."""


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class DecisionRule:
    positive: int | None = None  # the positive class's index (binary models), else None
    threshold: float = 0.5  # the positive class wins at p >= threshold
    margin: float = 0.0  # p_top - p_second below this: flagged uncertain
    temperature: float = 1.0  # the calibration the probabilities carry (recorded)

    def __post_init__(self) -> None:
        t, m, temp = _number(self.threshold), _number(self.margin), _number(self.temperature)
        if t is None or not 0 < t < 1:
            raise DecisionRuleError(f"the decision threshold must be a probability between 0 "
                                    f"and 1 (such as 0.5), not {self.threshold!r}")
        if m is None or m < 0:
            raise DecisionRuleError(f"the uncertainty margin must be at least 0 (such as 0.2), "
                                    f"not {self.margin!r}")
        if temp is None or temp <= 0:
            raise DecisionRuleError(f"the temperature must be a positive number, not "
                                    f"{self.temperature!r}")

    def predict(self, probabilities: np.ndarray) -> np.ndarray:
        """The answer (class index) for each row of ``probabilities`` (images x classes)."""
        proba = np.asarray(probabilities, dtype=np.float64)
        if proba.ndim == 1:
            return self.predict(proba[None, :])
        if self.positive is not None and proba.shape[1] == 2:
            pos = self.positive
            return np.where(proba[:, pos] >= self.threshold, pos, 1 - pos).astype(np.int64)
        return proba.argmax(axis=1).astype(np.int64)

    def uncertain(self, probabilities: np.ndarray) -> np.ndarray:
        """True where the top two probabilities differ by less than the margin."""
        proba = np.atleast_2d(np.asarray(probabilities, dtype=np.float64))
        ordered = np.sort(proba, axis=1)[:, ::-1]
        gap = ordered[:, 0] - (ordered[:, 1] if proba.shape[1] > 1 else 0.0)
        return gap < self.margin

    def describe(self, classes: tuple[str, ...]) -> str:
        """The rule in words, for reports."""
        if self.positive is not None and len(classes) == 2:
            return (f"'{classes[self.positive]}' when its probability >= {self.threshold:g}, "
                    "else the other class")
        return "the most probable class"


ARGMAX = DecisionRule()
