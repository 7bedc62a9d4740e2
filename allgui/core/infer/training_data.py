"""What a model file records about the images it was trained on, so that
``evaluate`` can say when new images are ones it already saw, or unlike any
it learnt from.

- ``hashes``: the content hash of every training and validation image
  (:func:`allgui.core.dataset.hashing.file_hash`);
- :class:`FeatureReference`: where the training images lie in the model's
  pooled feature space (the graph's ``features`` output): per-feature mean
  and spread, each class's centre, and the distances of held-out validation
  images to the nearest centre (their percentiles are the yardstick).

Numpy only (the classifier never imports torch).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

METADATA_KEY = "training_data"
PERCENTILES = (50, 95, 99, 100)


@dataclass(frozen=True, eq=False)
class FeatureReference:
    """The training images in feature space, and how far held-out images lie."""

    mean: np.ndarray  # (C,)
    scale: np.ndarray  # (C,), never 0
    centroids: np.ndarray  # (K, C), in standardised units
    reference: Mapping[int, float]  # percentile -> distance of held-out images
    reference_images: int  # held-out images the percentiles come from
    train_images: int  # training images the centres come from

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Each image's distance to the nearest class centre: the root mean
        square over features of the standardised difference."""
        z = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        d = np.sqrt(((z[:, None, :] - self.centroids[None, :, :]) ** 2).mean(axis=2))
        return d.min(axis=1)

    def to_dict(self) -> dict[str, Any]:
        def r(a: np.ndarray) -> list:
            return np.round(a.astype(np.float64), 6).tolist()

        return {"mean": r(self.mean), "scale": r(self.scale), "centroids": r(self.centroids),
                "reference": {str(k): v for k, v in self.reference.items()},
                "reference_images": self.reference_images, "train_images": self.train_images}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureReference:
        mean = np.asarray(d["mean"], dtype=np.float64)
        scale = np.asarray(d["scale"], dtype=np.float64)
        centroids = np.asarray(d["centroids"], dtype=np.float64)
        if (mean.ndim != 1 or scale.shape != mean.shape or centroids.ndim != 2
                or centroids.shape[1] != mean.size or not np.all(scale > 0)
                or not np.all(np.isfinite(centroids))):
            raise ValueError("feature reference of the wrong shape")
        reference = {int(k): float(v) for k, v in d["reference"].items()}
        if not all(math.isfinite(v) and v >= 0 for v in reference.values()):
            raise ValueError("feature reference distances must be finite")
        return cls(mean, scale, centroids, reference, int(d["reference_images"]),
                   int(d["train_images"]))


def feature_reference(train: np.ndarray, labels: np.ndarray, held_out: np.ndarray
                      ) -> FeatureReference:
    """The reference from training features (with their class ids) and the
    features of held-out images (validation; the training images when none)."""
    train = np.asarray(train, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    mean = train.mean(axis=0)
    scale = train.std(axis=0)
    scale = np.where(scale > 1e-6 * max(1.0, float(scale.max(initial=0.0))), scale, 1.0)
    z = (train - mean) / scale
    centroids = np.stack([z[labels == c].mean(axis=0) for c in np.unique(labels)])
    ref = FeatureReference(mean, scale, centroids, {}, 0, int(train.shape[0]))
    held = np.asarray(held_out, dtype=np.float64) if len(held_out) else train
    d = ref.distances(held)
    return FeatureReference(mean, scale, centroids,
                            {p: float(np.percentile(d, p)) for p in PERCENTILES},
                            int(held.shape[0]), int(train.shape[0]))


@dataclass(frozen=True)
class TrainingFingerprint:
    """What a model file says about its training images."""

    hashes: frozenset[str] = field(default_factory=frozenset)
    features: FeatureReference | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"hashes": sorted(self.hashes),
                "features": self.features.to_dict() if self.features is not None else None}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> TrainingFingerprint | None:
        """The record, None when absent; ValueError or TypeError when malformed."""
        if not d:
            return None
        hashes = d.get("hashes") or []
        if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
            raise TypeError("training hashes must be a list of strings")
        feats = d.get("features")
        return cls(frozenset(hashes), FeatureReference.from_dict(feats) if feats else None)
