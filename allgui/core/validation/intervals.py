"""Intervals by formula, and what every interval is: a proportion's (Wilson,
exact), an AUC's (DeLong), the mean's over seeds, each named for what it
covers.

The spread over seeds (:func:`allgui.core.validation.stats.summarize`) says
only how much training varies on one fixed test set; with a few dozen test
images the test sample is the larger uncertainty. Here:

- :func:`wilson`, :func:`clopper_pearson`: a proportion (k of n images);
- :func:`delong`: the AUC of one class against the rest (DeLong's variance);
  a perfect separation gets the exact lower bound of its smaller class;
- :func:`seed_interval`: the mean over seeds (training variation only).

The bootstrap over test images (every figure, by patient or image, and two
models paired) is :mod:`allgui.core.validation.bootstrap`. Every interval
stays within 0..1 (the figures are shares or areas). Numpy and scipy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from allgui.core.validation.stats import format_interval

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Bounded:
    """An interval for one figure and what it resamples, in words."""

    low: float | None
    high: float | None
    method: str  # 'Wilson, images', 'bootstrap by patient', 'DeLong, images' ...
    note: str = ""


def z_value(confidence: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + confidence / 2))


def wilson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    """Wilson score interval for k successes in n trials (within 0..1)."""
    if n <= 0:
        return None, None
    z = z_value(confidence)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def clopper_pearson(k: int, n: int, confidence: float = CONFIDENCE
                    ) -> tuple[float | None, float | None]:
    """Exact (Clopper-Pearson) interval for k successes in n trials."""
    from scipy.stats import beta

    if n <= 0:
        return None, None
    a = (1 - confidence) / 2
    low = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return low, high


def delong(is_positive: Sequence[bool] | np.ndarray, scores: Sequence[float] | np.ndarray,
           confidence: float = CONFIDENCE) -> tuple[float, Bounded]:
    """The AUC and its DeLong interval (clipped to 0..1). With no overlap at
    all DeLong's variance is 0, so the exact lower bound for 'every image of
    the smaller class ranked right' is given instead of a zero-width interval."""
    from scipy.stats import rankdata

    y = np.asarray(is_positive, dtype=bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    pos, neg = s[y], s[~y]
    m, n = pos.size, neg.size
    if m == 0 or n == 0:
        return float("nan"), Bounded(None, None, "DeLong, images", "one class is absent")
    tz = rankdata(np.concatenate([pos, neg]))
    v10 = (tz[:m] - rankdata(pos)) / n
    v01 = 1 - (tz[m:] - rankdata(neg)) / m
    auc = float((tz[:m].sum() - m * (m + 1) / 2) / (m * n))
    var = (float(np.var(v10, ddof=1)) / m if m > 1 else 0.0) + \
        (float(np.var(v01, ddof=1)) / n if n > 1 else 0.0)
    if var <= 1e-15:
        smaller = min(m, n)
        a = (1 - confidence) / 2
        bound = a ** (1 / smaller)  # Clopper-Pearson with every one of `smaller` right
        if auc >= 0.5:
            return auc, Bounded(bound, 1.0, "exact bound, images",
                                f"perfect separation on {smaller} images of the smaller class")
        return auc, Bounded(0.0, 1 - bound, "exact bound, images",
                            f"perfect reversal on {smaller} images of the smaller class")
    half = z_value(confidence) * math.sqrt(var)
    return auc, Bounded(max(0.0, auc - half), min(1.0, auc + half), "DeLong, images")


def seed_interval(values: Sequence[float | None], confidence: float = CONFIDENCE
                  ) -> Bounded:
    """The t-interval of the mean over seeds, kept within 0..1; fewer than
    three runs cannot give one ('too few runs to say')."""
    from scipy.stats import t

    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    method = "t over seeds (training variation only)"
    if arr.size < 3:
        return Bounded(None, None, method, "too few runs to say")
    mean, sd = float(arr.mean()), float(arr.std(ddof=1))
    half = float(t.ppf(0.5 + confidence / 2, arr.size - 1)) * sd / math.sqrt(arr.size)
    low, high = mean - half, mean + half
    note = "clipped to 0..1" if low < 0 or high > 1 else ""
    return Bounded(max(0.0, low), min(1.0, high), method, note)


def format_bounded(b: Bounded | None, digits: int = 4) -> str:
    """'[low, high]', or the reason there is none."""
    if b is None:
        return "n/a"
    if b.low is None or b.high is None:
        return b.note or "n/a"
    return format_interval(b.low, b.high, digits)
