"""Whether reduced-precision features (bf16, int8) stay faithful to fp32 on a
project's own images: checked before an engine or precision is used, never
assumed.

Two measures on a sample of the project's training images: the cosine of each
image's features with its fp32 features (mean and worst), and the agreement
of a quick probe: a logistic regression trained on fp32 features of half the
sample (the project's labels) predicts the other half from fp32 and from the
candidate's features; the share of images it calls the same. Without labels
the probe is each image's nearest neighbour in the sample. onnxruntime's
plain static int8 reached a cosine of 0.93 (worst 0.76) on real smear images,
and a head trained on it scored 0.746 on fp32 features: the thresholds below
refuse that, and pass NNCF's calibrated int8 (0.996) and bf16 (0.999).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

FIDELITY_IMAGES = 64  # of the project's training images, spread over the set


@dataclass(frozen=True)
class FidelityThreshold:
    cosine_mean: float = 0.99
    cosine_min: float = 0.95
    agreement: float = 0.9


@dataclass(frozen=True)
class Fidelity:
    """How close a precision's features came to fp32's on ``images`` images."""

    images: int
    cosine_mean: float
    cosine_min: float
    agreement: float
    probe: str  # 'quick probe' (the project's labels) or 'nearest neighbour'

    def passes(self, threshold: FidelityThreshold) -> bool:
        # NaN (an engine that gives invalid numbers) fails every comparison.
        return bool(self.cosine_mean >= threshold.cosine_mean
                    and self.cosine_min >= threshold.cosine_min
                    and self.agreement >= threshold.agreement)

    def words(self) -> str:
        return (f"cosine {self.cosine_mean:.4f} (worst {self.cosine_min:.4f}), "
                f"{self.probe} agreement {self.agreement:.2f} on {self.images} images")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fidelity:
        return cls(int(data["images"]), float(data["cosine_mean"]), float(data["cosine_min"]),
                   float(data["agreement"]), str(data["probe"]))


def sample_rows(n: int, k: int = FIDELITY_IMAGES) -> np.ndarray:
    """``k`` row indices spread evenly over ``n`` (all of them when fewer)."""
    if n <= k:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.sum(a * b, axis=1) / np.maximum(norms, 1e-30)


def measure(reference: np.ndarray, candidate: np.ndarray,
            labels: np.ndarray | None = None) -> Fidelity:
    """``candidate``'s features against fp32's ``reference`` (same images, rows)."""
    reference = np.asarray(reference, np.float64)
    candidate = np.asarray(candidate, np.float64)
    if reference.shape != candidate.shape or not np.all(np.isfinite(candidate)):
        return Fidelity(len(reference), float("nan"), float("nan"), float("nan"), "quick probe")
    cos = cosines(reference, candidate)
    agreement, probe = _probe_agreement(reference, candidate, labels)
    return Fidelity(len(reference), float(cos.mean()), float(cos.min()), agreement, probe)


def _probe_agreement(reference: np.ndarray, candidate: np.ndarray,
                     labels: np.ndarray | None) -> tuple[float, str]:
    if labels is not None:
        y = np.asarray(labels)
        order = np.random.default_rng(0).permutation(len(y))  # halves of every class
        fit, held = np.sort(order[: len(y) // 2]), np.sort(order[len(y) // 2:])
        if len(held) and len(np.unique(y[fit])) >= 2:
            import warnings

            from sklearn.exceptions import ConvergenceWarning
            from sklearn.linear_model import LogisticRegression

            mean = reference[fit].mean(0)
            scale = reference[fit].std(0)
            scale[scale < 1e-12] = 1.0
            model = LogisticRegression(C=1.0, max_iter=1000)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit((reference[fit] - mean) / scale, y[fit])
            a = model.predict((reference[held] - mean) / scale)
            b = model.predict((candidate[held] - mean) / scale)
            return float(np.mean(a == b)), "quick probe"
    if len(reference) < 3:
        return 1.0, "nearest neighbour"
    return float(np.mean(_nearest(reference) == _nearest(candidate))), "nearest neighbour"


def _nearest(x: np.ndarray) -> np.ndarray:
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    return np.asarray(sim.argmax(1))
