"""Statistics across validation runs and between models, with small n stated.

Three runs (the paper's protocol) give a mean and a spread, but a wide
interval: a 95% t-interval with 2 degrees of freedom is 4.3 standard errors
on each side. Every result here carries ``n`` and a plain note when n is too
small for a figure, instead of a NaN or a crash.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from allgui.core.files.text import count

# Below this many discordant images McNemar's chi-square approximation is
# poor; the exact binomial test is used instead (a common rule of thumb).
MCNEMAR_EXACT_BELOW = 25


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation (n - 1), coefficient of variation
    (sd / mean) and a t-interval for the mean with n - 1 degrees of freedom."""

    n: int
    mean: float | None
    sd: float | None
    cv: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float = 0.95
    note: str = ""


@dataclass(frozen=True)
class Interval:
    """A bootstrap interval (percentile method) around ``estimate``."""

    estimate: float
    low: float | None
    high: float | None
    confidence: float
    resamples: int
    method: str
    note: str = ""


@dataclass(frozen=True)
class PairedTest:
    """Paired t-test of ``a - b`` over the same seeds (two-sided)."""

    n: int
    mean_difference: float | None
    sd_difference: float | None
    t: float | None
    df: int | None
    p_value: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float = 0.95
    note: str = ""


@dataclass(frozen=True)
class McNemarTest:
    """McNemar's test of two models on the same test images (two-sided).

    ``only_a`` images were right for model A and wrong for B, ``only_b`` the
    reverse; only these discordant images carry information."""

    images: int
    only_a: int
    only_b: int
    statistic: float | None
    p_value: float
    method: str
    note: str = ""


def _small_n_note(n: int) -> str:
    if n == 0:
        return "no runs: nothing to summarise"
    if n == 1:
        return "one run: no spread or interval can be given"
    if n < 5:
        return f"n = {n}: few runs, so the interval is wide"
    return ""


def summarize(values: Sequence[float | None], confidence: float = 0.95) -> Summary:
    """Summary of one figure over independent runs (NaNs are dropped and counted)."""
    from scipy import stats

    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    dropped = int(np.sum(~np.isfinite(arr)))
    arr = arr[np.isfinite(arr)]
    n = int(arr.size)
    note = _small_n_note(n)
    if dropped:
        note = (note + "; " if note else "") + f"{count(dropped, 'run')} without a value left out"
    if n == 0:
        return Summary(0, None, None, None, None, None, confidence, note)
    mean = float(arr.mean())
    if n == 1:
        return Summary(1, mean, None, None, None, None, confidence, note)
    sd = float(arr.std(ddof=1))
    cv = sd / abs(mean) if mean != 0 else None
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return Summary(n, mean, sd, cv, mean - half, mean + half, confidence, note)


def paired_t_test(
    a: Sequence[float | None], b: Sequence[float | None], confidence: float = 0.95
) -> PairedTest:
    """Is ``a`` (say the tuned model) different from ``b`` (the baseline) over
    runs paired by seed? Pairs with a missing value on either side are dropped."""
    from scipy import stats

    if len(a) != len(b):
        raise ValueError(f"paired test needs pairs: {len(a)} vs {len(b)} values")
    pairs = [
        (float(x), float(y))
        for x, y in zip(a, b, strict=True)
        if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)
    ]
    n = len(pairs)
    d = np.asarray([x - y for x, y in pairs], dtype=np.float64)
    if n < 2:
        note = "fewer than two paired runs: no test possible"
        mean = float(d.mean()) if n else None
        return PairedTest(n, mean, None, None, None, None, None, None, confidence, note)
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    df = n - 1
    note = f"n = {n} pairs: low power, so a large p-value is no evidence of no difference" \
        if n < 5 else ""
    # Rounding makes identical differences look slightly spread; treat that as none.
    if sd <= 1e-12 * max(1.0, float(np.abs(d).max())):
        extra = "every pair differs by the same amount: the t statistic is undefined"
        note = f"{note}; {extra}" if note else extra
        return PairedTest(n, mean, 0.0, None, df, None, mean, mean, confidence, note)
    test = stats.ttest_rel([x for x, _ in pairs], [y for _, y in pairs])
    ci = test.confidence_interval(confidence)
    return PairedTest(n, mean, sd, float(test.statistic), df, float(test.pvalue),
                      float(ci.low), float(ci.high), confidence, note)


def mcnemar_test(correct_a: ArrayLike, correct_b: ArrayLike) -> McNemarTest:
    """McNemar's test on per-image correctness of two models on the same images:
    exact binomial below :data:`MCNEMAR_EXACT_BELOW` discordant images,
    chi-square with continuity correction otherwise."""
    from scipy import stats

    ca = np.asarray(correct_a, dtype=bool).ravel()
    cb = np.asarray(correct_b, dtype=bool).ravel()
    if ca.shape != cb.shape:
        raise ValueError(f"McNemar needs the same images: {ca.size} vs {cb.size}")
    only_a = int(np.sum(ca & ~cb))
    only_b = int(np.sum(~ca & cb))
    m = only_a + only_b
    if m == 0:
        return McNemarTest(int(ca.size), 0, 0, None, 1.0, "none",
                           "the two models are right and wrong on exactly the same images")
    if m < MCNEMAR_EXACT_BELOW:
        p = float(stats.binomtest(only_a, m, 0.5).pvalue)
        return McNemarTest(int(ca.size), only_a, only_b, None, min(1.0, p),
                           "exact binomial", f"{m} discordant images: exact test used")
    chi2 = (abs(only_a - only_b) - 1) ** 2 / m
    p = float(stats.chi2.sf(chi2, 1))
    return McNemarTest(int(ca.size), only_a, only_b, float(chi2), p,
                       "chi-square with continuity correction")


def _auc_by_rank(pos_scores: np.ndarray, neg_scores: np.ndarray) -> np.ndarray:
    """AUC (Mann-Whitney) of each row of score matrices, ties counted half."""
    from scipy.stats import rankdata

    n_pos = pos_scores.shape[1]
    n_neg = neg_scores.shape[1]
    both = np.concatenate([pos_scores, neg_scores], axis=1)
    ranks = rankdata(both, axis=1)
    rank_sum = ranks[:, :n_pos].sum(axis=1)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def bootstrap_auc(
    is_positive: ArrayLike,
    scores: ArrayLike,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval for the AUC of ``scores`` on one test set.

    Resampling is stratified (positives and negatives resampled separately),
    so every resample holds both classes and the class balance of the test
    set is kept. The interval covers sampling of test images only, not the
    variation between training runs.
    """
    y = np.asarray(is_positive, dtype=bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    pos, neg = s[y], s[~y]
    method = "stratified percentile bootstrap"
    if pos.size == 0 or neg.size == 0:
        return Interval(float("nan"), None, None, confidence, 0, method,
                        "the test set lacks one class: AUC is undefined")
    estimate = float(_auc_by_rank(pos[None, :], neg[None, :])[0])
    rng = np.random.default_rng(seed)
    aucs = []
    # In chunks, so a large test set does not need one huge array.
    chunk = max(1, min(resamples, 4_000_000 // max(1, s.size)))
    done = 0
    while done < resamples:
        m = min(chunk, resamples - done)
        p = pos[rng.integers(0, pos.size, size=(m, pos.size))]
        q = neg[rng.integers(0, neg.size, size=(m, neg.size))]
        aucs.append(_auc_by_rank(p, q))
        done += m
    values = np.concatenate(aucs)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    note = ""
    if min(pos.size, neg.size) < 10:
        note = f"only {min(pos.size, neg.size)} images in the smaller class: interval unreliable"
    return Interval(estimate, float(low), float(high), confidence, resamples, method, note)


def format_value(value: float | None, digits: int = 4) -> str:
    """A figure for a table: 'n/a' where it cannot be given."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def format_mean_sd(mean: float | None, sd: float | None, n: int) -> str:
    """'mean \u00b1 sd (n = N)' for a figure over runs; 'no value' without a mean."""
    if mean is None:
        return "no value"
    return format_value(mean) + ("" if sd is None else f" \u00b1 {format_value(sd)}") \
        + f" (n = {n})"


def format_interval(low: float | None, high: float | None, digits: int = 4) -> str:
    if low is None or high is None:
        return "n/a"
    return f"[{low:.{digits}f}, {high:.{digits}f}]"
