"""Bootstrap intervals from the test images: how far a figure could move with
another sample of images (or patients), each named for what it resamples.

- :func:`bootstrap_figures`: every headline figure, the mean over one or more
  runs scored on the same images, resampling whole patients when every image
  names one, else images within each class;
- :func:`paired_bootstrap`: two models' difference on the same resamples;
- :func:`run_intervals`: one model's interval for every figure, by formula
  (:mod:`allgui.core.validation.intervals`) where images are the unit.

Every interval stays within 0..1 (the figures are shares or areas).
Numpy and scipy only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from allgui.core.validation.intervals import CONFIDENCE, Bounded, clopper_pearson, delong, wilson


@dataclass(frozen=True)
class Difference:
    """Model A minus model B on the same resampled test images."""

    difference: float
    low: float | None
    high: float | None
    p_value: float | None  # two-sided, from the bootstrap distribution of the difference
    method: str
    resamples: int


# -- every figure from a confusion matrix, fast enough for thousands of resamples --------


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Mann-Whitney AUC, ties counted half (by sorted search: no ranking needed)."""
    neg = np.sort(neg)
    below = np.searchsorted(neg, pos, side="left")
    upto = np.searchsorted(neg, pos, side="right")
    return float((below.sum() + 0.5 * (upto - below).sum()) / (pos.size * neg.size))


def figures(labels: np.ndarray, proba: np.ndarray, classes: Sequence[str], positive: str,
            patients: np.ndarray | None = None) -> dict[str, float]:
    """The headline figures of :meth:`RunMetrics.headline` (same keys, same
    definitions) from the labels and probabilities alone; ``patients`` is an
    integer code per image (or None)."""
    k = len(classes)
    pred = proba.argmax(axis=1)
    if k > 2:  # as sklearn's multi-class AUC does (rows sum to one up to rounding)
        total_p = proba.sum(axis=1, keepdims=True)
        proba = proba / np.where(total_p == 0, 1.0, total_p)
    cm = np.bincount(labels * k + pred, minlength=k * k).reshape(k, k).astype(np.float64)
    total = cm.sum()
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    called = cm.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = np.where(called > 0, tp / called, 0.0)
        rec = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
        neg = total - support
        spec = np.where(neg > 0, (total - support - called + tp) / neg, 0.0)
    w = support / total
    out = {
        "accuracy": float(tp.sum() / total),
        "balanced_accuracy": float(rec[support > 0].mean()),
        "weighted_f1": float((f1 * w).sum()),
        "f1_macro": float(f1.mean()),
        "precision_weighted": float((prec * w).sum()),
        "recall_weighted": float((rec * w).sum()),
    }
    if k == 2:
        p = list(classes).index(positive)
        is_pos = labels == p
        out["auc_roc"] = _auc(proba[is_pos, p], proba[~is_pos, p])
    else:
        out["auc_roc"] = float(np.mean([_auc(proba[labels == c, c], proba[labels != c, c])
                                        for c in range(k)]))
    for i, name in enumerate(classes):
        out[f"precision[{name}]"] = float(prec[i])
        out[f"recall[{name}]"] = float(rec[i])
        out[f"specificity[{name}]"] = float(spec[i])
        out[f"f1[{name}]"] = float(f1[i])
    if patients is not None:
        right = (pred == labels).astype(np.float64)
        n_p = int(patients.max()) + 1
        images = np.bincount(patients, minlength=n_p)
        have = images > 0
        out["patient_accuracy"] = float(
            (np.bincount(patients, weights=right, minlength=n_p)[have] / images[have]).mean())
    return out


def _patient_codes(patients: Sequence[str | None] | None, n: int) -> np.ndarray | None:
    """Integer codes when every image names a patient, else None."""
    if patients is None or len(patients) != n or not all(patients):
        return None
    codes: dict[str, int] = {}
    return np.asarray([codes.setdefault(str(p), len(codes)) for p in patients], dtype=np.int64)


def unit_of(patients: Sequence[str | None] | None, n: int) -> str:
    """What the bootstrap resamples: 'patient' when every image names one, else 'image'."""
    return "patient" if _patient_codes(patients, n) is not None else "image"


def _resamples(labels: np.ndarray, codes: np.ndarray | None, k: int, resamples: int, seed: int,
               tick: Callable[[], None] | None = None):
    """(image indices, patient group per index or None) of bootstrap resamples:
    whole patients (a patient drawn twice counts twice), or images within
    each class; resamples lacking a class are skipped (a figure of that
    class would be undefined). ``tick`` is called once per resample drawn
    (skipped ones too), for a progress bar."""
    rng = np.random.default_rng(seed)
    if codes is not None:
        members = [np.flatnonzero(codes == c) for c in range(int(codes.max()) + 1)]
        # Where every patient is of one class (as in C-NMC), patients are drawn
        # within their class, as images are, so each resample holds every class.
        single = all(np.unique(labels[m]).size == 1 for m in members)
        by_class = [np.asarray([j for j, m in enumerate(members) if labels[m[0]] == c])
                    for c in range(k)] if single else [np.arange(len(members))]
    strata = [np.flatnonzero(labels == c) for c in range(k)]
    for _ in range(resamples):
        if tick is not None:
            tick()
        if codes is not None:
            draws = np.concatenate([g[rng.integers(0, g.size, g.size)] for g in by_class
                                    if g.size])
            idx = np.concatenate([members[j] for j in draws])
            if np.unique(labels[idx]).size < k:
                continue
            groups = np.repeat(np.arange(draws.size), [members[j].size for j in draws])
            yield idx, groups
        else:
            yield np.concatenate([s[rng.integers(0, s.size, s.size)] for s in strata]), None


MIN_PATIENTS = 5  # per class, for a bootstrap by patient to say anything


def _fewest_patients(labels: np.ndarray, codes: np.ndarray | None, k: int) -> int | None:
    """The fewest patients holding images of any one class (None: no patients)."""
    if codes is None:
        return None
    return min(np.unique(codes[labels == c]).size for c in range(k))


def _mean_figures(labels, probas, classes, positive, idx, groups) -> dict[str, float]:
    runs = [figures(labels[idx], p[idx], classes, positive, groups) for p in probas]
    return {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}


def _check(labels: np.ndarray, probas: Sequence[np.ndarray]) -> None:
    for p in probas:
        if p.shape[0] != labels.shape[0]:
            raise ValueError("every run must be scored on the same images")


def bootstrap_figures(labels: np.ndarray, probas: Sequence[np.ndarray], classes: Sequence[str],
                      positive: str, patients: Sequence[str | None] | None = None,
                      resamples: int = 1000, seed: int = 0, confidence: float = CONFIDENCE,
                      tick: Callable[[], None] | None = None) -> tuple[dict[str, Bounded], str]:
    """Percentile interval of each figure's mean over ``probas`` (one or more
    runs on the same images), and the unit resampled ('patient' or 'image');
    ``tick`` is called once per resample."""
    labels = np.asarray(labels, dtype=np.int64)
    probas = [np.asarray(p, dtype=np.float64) for p in probas]
    _check(labels, probas)
    codes = _patient_codes(patients, labels.size)
    unit = "patient" if codes is not None else "image"
    fewest = _fewest_patients(labels, codes, len(classes))
    if fewest is not None and fewest < MIN_PATIENTS:
        # A percentile bootstrap over one or two patients of a class only
        # reshuffles them: no interval beats saying so.
        keys = figures(labels, probas[0], classes, positive, codes)
        note = (f"too few test patients to say ({fewest} of a class; "
                f"{MIN_PATIENTS} or more needed)")
        return {key: Bounded(None, None, f"bootstrap by {unit}", note) for key in keys}, unit
    samples: dict[str, list[float]] = {}
    for idx, groups in _resamples(labels, codes, len(classes), resamples, seed, tick):
        for key, v in _mean_figures(labels, probas, classes, positive, idx, groups).items():
            samples.setdefault(key, []).append(v)
    a = (1 - confidence) / 2
    method = f"bootstrap by {unit}"
    out: dict[str, Bounded] = {}
    sizes = _denominators(labels, probas, classes, codes)
    for key, vals in samples.items():
        if len(vals) < 20:
            continue
        low, high = np.quantile(vals, [a, 1 - a])
        note = f"{len(vals)} of {resamples} resamples held every class" \
            if len(vals) < resamples else ""
        if high - low < 1e-12 and (low >= 1 - 1e-12 or high <= 1e-12):
            # every resample at the bound: the bootstrap cannot see past it; the
            # exact bound for all of n right (or wrong) says how far it could be
            n = sizes.get(key, sizes["smallest"])
            k = n if low >= 1 - 1e-12 else 0
            lo, hi = clopper_pearson(k, n, confidence)
            out[key] = Bounded(lo, hi, f"exact bound ({n} {unit}s)",
                               f"every resample gave {k // n}")
            continue
        out[key] = Bounded(float(low), float(high), method, note)
    return out, unit


def _denominators(labels: np.ndarray, probas: Sequence[np.ndarray], classes: Sequence[str],
                  codes: np.ndarray | None) -> dict[str, int]:
    """How many images (or patients) stand behind each share: all of them for
    accuracy, a class's for its recall, the rest for its specificity, those
    called that class for its precision; 'smallest' (the smallest class) for
    figures that are not one share."""
    if codes is not None:  # patients are the unit: count them, not their cells
        n = int(codes.max()) + 1
        per_class = [len(np.unique(codes[labels == c])) for c in range(len(classes))]
        return {"accuracy": n, "smallest": max(1, min(per_class))}
    n = int(labels.size)
    support = np.bincount(labels, minlength=len(classes))
    called = np.bincount(probas[0].argmax(axis=1), minlength=len(classes))
    out = {"accuracy": n, "smallest": max(1, int(support.min()))}
    for i, name in enumerate(classes):
        out[f"recall[{name}]"] = max(1, int(support[i]))
        out[f"specificity[{name}]"] = max(1, n - int(support[i]))
        out[f"precision[{name}]"] = max(1, int(called[i]))
    return out


def paired_bootstrap(labels: np.ndarray, probas_a: Sequence[np.ndarray],
                     probas_b: Sequence[np.ndarray], classes: Sequence[str], positive: str,
                     patients: Sequence[str | None] | None = None, resamples: int = 1000,
                     seed: int = 0, confidence: float = CONFIDENCE,
                     tick: Callable[[], None] | None = None) -> dict[str, Difference]:
    """Each figure's difference (mean over A's runs minus mean over B's) with
    a percentile interval and a two-sided p-value, both models scored on the
    same resamples of the same test images; ``tick`` is called once per resample."""
    labels = np.asarray(labels, dtype=np.int64)
    pa = [np.asarray(p, dtype=np.float64) for p in probas_a]
    pb = [np.asarray(p, dtype=np.float64) for p in probas_b]
    _check(labels, pa + pb)
    codes = _patient_codes(patients, labels.size)
    method = f"paired bootstrap by {'patient' if codes is not None else 'image'}"
    full = np.arange(labels.size)
    fa = _mean_figures(labels, pa, classes, positive, full, codes)
    fb = _mean_figures(labels, pb, classes, positive, full, codes)
    samples: dict[str, list[float]] = {}
    for idx, groups in _resamples(labels, codes, len(classes), resamples, seed, tick):
        sa = _mean_figures(labels, pa, classes, positive, idx, groups)
        sb = _mean_figures(labels, pb, classes, positive, idx, groups)
        for key in sa:
            samples.setdefault(key, []).append(sa[key] - sb[key])
    a = (1 - confidence) / 2
    out: dict[str, Difference] = {}
    for key, vals in samples.items():
        d = np.asarray(vals)
        if d.size < 20:
            continue
        low, high = np.quantile(d, [a, 1 - a])
        # share of resamples on the far side of 0, both tails; an exact tie counts half
        below = (np.sum(d < 0) + 0.5 * np.sum(d == 0)) / d.size
        # never 0: a bootstrap of d.size resamples cannot say less than 1 / d.size
        p = min(1.0, max(2 * min(below, 1 - below), 1 / d.size))
        out[key] = Difference(fa[key] - fb[key], float(low), float(high), float(p), method,
                              int(d.size))
    return out


def run_intervals(labels: np.ndarray, proba: np.ndarray, classes: Sequence[str], positive: str,
                  patients: Sequence[str | None] | None = None, resamples: int = 1000,
                  seed: int = 0, confidence: float = CONFIDENCE) -> dict[str, Bounded]:
    """One model's interval for every headline figure over its test images:
    Wilson for a share of images (accuracy, and per class recall, precision
    and specificity) and DeLong for a two-class AUC when images are the unit;
    a bootstrap (by patient when every image names one) for everything else,
    and for every figure when patients are known (cells of one patient are
    not independent)."""
    labels = np.asarray(labels, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    out, unit = bootstrap_figures(labels, [proba], classes, positive, patients, resamples, seed,
                                  confidence)
    if unit == "patient":
        return out
    k = len(classes)
    pred = proba.argmax(axis=1)

    def share(hits: int, n: int) -> Bounded:
        low, high = wilson(hits, n, confidence)
        return Bounded(low, high, "Wilson, images", f"{hits} of {n}")

    out["accuracy"] = share(int((pred == labels).sum()), labels.size)
    for i, name in enumerate(classes):
        mine, called = labels == i, pred == i
        out[f"recall[{name}]"] = share(int((mine & called).sum()), int(mine.sum()))
        if called.any():
            out[f"precision[{name}]"] = share(int((mine & called).sum()), int(called.sum()))
        out[f"specificity[{name}]"] = share(int((~mine & ~called).sum()), int((~mine).sum()))
    if k == 2:
        p = list(classes).index(positive)
        out["auc_roc"] = delong(labels == p, proba[:, p], confidence)[1]
    return out
