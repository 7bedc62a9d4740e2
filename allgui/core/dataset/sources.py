"""Does a class differ from the others by how it was acquired? When every
image of one class has its own size, or a colour no image of the other
classes has, a model can score perfectly by learning the source (scanner,
stain, crop) instead of the cells, and its figures say nothing about
leukemia. Each class is compared with the rest on the original image size
and on simple colour statistics of the prepared image; a warning names the
class and what separates it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

# One statistic alone separating a class from the rest this well (AUC, either
# direction) is a source, not biology.
SEPARATION = 0.98
MIN_IMAGES = 5  # per class, below which nothing is said
FEATURES = ("mean red", "mean green", "mean blue", "brightness spread")


def colour_stats(images: np.ndarray) -> np.ndarray:
    """(N, 4): mean R, G, B and the standard deviation of brightness."""
    x = np.asarray(images, dtype=np.float32)
    return np.concatenate([x.mean(axis=(1, 2)), x.mean(axis=3).std(axis=(1, 2))[:, None]],
                          axis=1)


def original_size(path: str) -> tuple[int, int] | None:
    try:
        with Image.open(path) as img:
            return img.size
    except Exception:  # unreadable headers are reported elsewhere
        return None


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    neg = np.sort(neg)
    below = np.searchsorted(neg, pos, side="left")
    upto = np.searchsorted(neg, pos, side="right")
    auc = float((below.sum() + 0.5 * (upto - below).sum()) / (pos.size * neg.size))
    return max(auc, 1 - auc)


def source_warnings(classes: Sequence[str], labels: np.ndarray, stats: np.ndarray,
                    sizes: Sequence[tuple[int, int] | None]) -> tuple[str, ...]:
    """Plain warnings, one per class that differs from the others by acquisition."""
    labels = np.asarray(labels)
    out = []
    for c, name in enumerate(classes):
        mine = labels == c
        if mine.sum() < MIN_IMAGES or (~mine).sum() < MIN_IMAGES:
            continue
        found = []
        own = {s for s, m in zip(sizes, mine, strict=True) if m and s}
        rest = {s for s, m in zip(sizes, mine, strict=True) if not m and s}
        if own and rest and not own & rest:
            shown = ", ".join(f"{w} x {h}" for w, h in sorted(own)[:3])
            found.append(f"its images are {shown} px and no image of another class is")
        for f, feature in enumerate(FEATURES):
            auc = _auc(stats[mine, f], stats[~mine, f])
            if auc >= SEPARATION:
                found.append(f"its {feature} alone separates it from the others "
                             f"(AUC {auc:.2f})")
        if found:
            out.append(f"Class '{name}' differs from the other classes by acquisition: "
                       + "; ".join(found) + ". A model can learn the source (scanner, stain, "
                       "crop) instead of the cells; check that every class comes from the "
                       "same kind of slides, or its figures say little about leukemia.")
    return tuple(out)
