"""What a model file records about the images it was trained on, so that
``evaluate`` can say when new images are ones it already saw, or unlike any
it learnt from.

- ``hashes``: the content hash of every training and validation image
  (:func:`allgui.core.dataset.hashing.file_hash`);
- :class:`FeatureReference`: where the training images lie in the model's
  pooled feature space (the graph's ``features`` output): their mean, their
  main directions of variation (whitened principal components, so each
  counts as much as it varies in training and features that barely vary
  cannot dominate), each class's centre, and the distances of held-out
  validation images to the nearest centre (their percentiles are the
  yardstick).

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
COMPONENTS = 32  # principal components kept (fewer with fewer training images)


@dataclass(frozen=True, eq=False)
class FeatureReference:
    """The training images in feature space, and how far held-out images lie."""

    mean: np.ndarray  # (C,)
    projection: np.ndarray  # (k, C): whitened principal directions
    centroids: np.ndarray  # (K, k): each class's centre, projected
    reference: Mapping[int, float]  # percentile -> distance of held-out images
    reference_images: int  # held-out images the percentiles come from
    train_images: int  # training images the centres come from

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Each image's distance to the nearest class centre: the root mean
        square over the whitened components."""
        z = (np.asarray(features, dtype=np.float64) - self.mean) @ self.projection.T
        d = np.sqrt(((z[:, None, :] - self.centroids[None, :, :]) ** 2).mean(axis=2))
        return d.min(axis=1)

    def to_dict(self) -> dict[str, Any]:
        def r(a: np.ndarray) -> list:
            return [float(f"{v:.6g}") for v in a.astype(np.float64).ravel()]

        return {"mean": r(self.mean), "projection": r(self.projection),
                "components": int(self.projection.shape[0]), "centroids": r(self.centroids),
                "reference": {str(k): v for k, v in self.reference.items()},
                "reference_images": self.reference_images, "train_images": self.train_images}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureReference:
        mean = np.asarray(d["mean"], dtype=np.float64)
        k = int(d["components"])
        projection = np.asarray(d["projection"], dtype=np.float64).reshape(k, mean.size)
        centroids = np.asarray(d["centroids"], dtype=np.float64).reshape(-1, k)
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(projection))
                and np.all(np.isfinite(centroids)) and len(centroids)):
            raise ValueError("feature reference values must be finite numbers")
        reference = {int(p): float(v) for p, v in d["reference"].items()}
        if not all(math.isfinite(v) and v >= 0 for v in reference.values()) or \
                not {99, 100} <= set(reference):
            raise ValueError("feature reference distances must be finite")
        return cls(mean, projection, centroids, reference, int(d["reference_images"]),
                   int(d["train_images"]))


def feature_reference(train: np.ndarray, labels: np.ndarray, held_out: np.ndarray
                      ) -> FeatureReference:
    """The reference from training features (with their class ids) and the
    features of held-out images (validation; the training images when none)."""
    train = np.asarray(train, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    mean = train.mean(axis=0)
    _, s, vt = np.linalg.svd(train - mean, full_matrices=False)
    sd = s / math.sqrt(max(1, train.shape[0] - 1))
    keep = sd > 1e-6 * max(float(sd.max(initial=0.0)), 1e-12)
    k = max(1, min(COMPONENTS, int(keep.sum())))
    projection = vt[:k] / sd[:k, None]
    z = (train - mean) @ projection.T
    centroids = np.stack([z[labels == c].mean(axis=0) for c in np.unique(labels)])
    ref = FeatureReference(mean, projection, centroids, {}, 0, int(train.shape[0]))
    held = np.asarray(held_out, dtype=np.float64) if len(held_out) else train
    d = ref.distances(held)
    return FeatureReference(mean, projection, centroids,
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
