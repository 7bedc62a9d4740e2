"""Statistics of a validation batch: each figure over runs (mean, sd, CV,
the spread over seeds) beside its interval over the test images (what
another sample of images or patients could give: the larger uncertainty
with a test set of a few dozen images), a DeLong interval for each run's AUC
(one class against the rest when there are more than two), and, when a
baseline or the linear probe was scored on the same images, paired
comparisons on those images: a paired bootstrap of each figure's difference
and McNemar's test per seed. A t-test over seeds is never used to compare
models: the seeds share one test set, so their spread leaves out the test
sampling (and the probe is the same model on every seed)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from allgui.core.errors import Cancelled
from allgui.core.events import Progress, Sink, job
from allgui.core.files.text import count
from allgui.core.validation.batch import Batch
from allgui.core.validation.bootstrap import (
    Difference,
    bootstrap_figures,
    paired_bootstrap,
    unit_of,
)
from allgui.core.validation.intervals import Bounded, delong, format_bounded, seed_interval
from allgui.core.validation.predictions import Predictions, read_predictions
from allgui.core.validation.run_record import BASELINE, PROBE, TUNED, RunRecord
from allgui.core.validation.stats import (
    Interval,
    McNemarTest,
    Summary,
    format_value,
    mcnemar_test,
    summarize,
)

RESAMPLES = 1000  # the window, the command line and the report use the same


@dataclass(frozen=True)
class MeasureRow:
    """One figure (say weighted F1) across the runs of a batch."""

    key: str
    label: str  # names the average: 'F1, weighted by class support (C-NMC metric)'
    tuned: tuple[float | None, ...]  # one per seed, in seed order; None = run missing
    tuned_summary: Summary
    baseline: tuple[float | None, ...] = ()
    baseline_summary: Summary | None = None
    difference: Difference | None = None  # tuned - baseline on the same test images
    probe: tuple[float | None, ...] = ()
    probe_summary: Summary | None = None
    probe_difference: Difference | None = None  # tuned - probe on the same test images
    # per label ('tuned', 'baseline', 'probe'): the spread over seeds (bounded,
    # or 'too few runs to say') and the interval over the test images
    seeds: Mapping[str, Bounded] = field(default_factory=dict)
    test: Mapping[str, Bounded] = field(default_factory=dict)

    def against(self, label: str) -> tuple[Summary | None, Difference | None]:
        if label == PROBE:
            return self.probe_summary, self.probe_difference
        return self.baseline_summary, self.difference


@dataclass(frozen=True)
class RunInterval:
    run: str
    seed: int
    interval: Interval
    of_class: str | None = None  # one class against the rest (more than two classes)


@dataclass(frozen=True)
class SeedComparison:
    seed: int
    test: McNemarTest  # A = tuned run, B = baseline (or probe) run on this seed
    against: str = BASELINE


@dataclass(frozen=True)
class BatchAnalysis:
    batch: Batch
    rows: tuple[MeasureRow, ...]
    auc_intervals: tuple[RunInterval, ...]
    mcnemar: tuple[SeedComparison, ...]
    probe_mcnemar: tuple[SeedComparison, ...] = ()  # tuned against the linear probe
    unit: str = "image"  # what the test-image intervals resample: 'image' or 'patient'
    resamples: int = RESAMPLES

    def row(self, key: str) -> MeasureRow:
        for r in self.rows:
            if r.key == key:
                return r
        raise KeyError(key)


def _by_seed(batch: Batch, label: str) -> list[RunRecord | None]:
    runs = {r.seed: r for r in batch.runs_of(label)}
    return [runs.get(s) for s in batch.seeds]


def _value(run: RunRecord | None, key: str) -> float | None:
    """One figure of a run; None where the run is missing."""
    return run.metrics.headline().get(key) if run is not None and run.metrics else None


def _auc_intervals(batch: Batch, run: RunRecord, p: Predictions) -> list[RunInterval]:
    """DeLong interval of the run's AUC; one per class against the rest with
    more than two classes (the macro figure's interval is in the table)."""
    out = []
    which: list[tuple[int, str | None]]
    if len(batch.classes) == 2:
        which = [(batch.classes.index(batch.positive_class), None)]
    else:
        which = [(i, c) for i, c in enumerate(batch.classes)]
    for i, name in which:
        auc, b = delong(p.labels == i, p.probabilities[:, i])
        out.append(RunInterval(run.name, run.seed, Interval(
            auc, b.low, b.high, 0.95, 0, b.method, b.note), name))
    return out


JOB = "Statistics"
# A running batch's view has no bootstrap (resamples=0): each finished run is
# shown at once with its figures; the test-image intervals come at the end
# (their bootstrap took 70 s on 800 real smears, every finished run waiting).
LATER = "at the batch's end"


class _Ticks:
    """Counts bootstrap resamples for a progress bar: a Progress every 2% of
    them, so a long analysis moves every second or two on a busy CPU; and
    stops there when ``cancel`` is set (closing the window waits for it)."""

    def __init__(self, sink: Sink | None, total: int, cancel: threading.Event | None) -> None:
        self.sink, self.total, self.done, self.cancel = sink, total, 0, cancel
        self.every = max(1, total // 50)

    def __call__(self) -> None:
        self.done += 1
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("Stopped while computing the statistics; the runs are kept.")
        if self.sink is not None and (self.done % self.every == 0 or self.done == self.total):
            self.sink(Progress(JOB, phase="statistics", done=min(self.done, self.total),
                               total=self.total, message="Intervals over the test images "
                               "(bootstrap)"))


def analyse(batch: Batch, resamples: int = RESAMPLES, seed: int = 0,
            sink: Sink | None = None, cancel: threading.Event | None = None) -> BatchAnalysis:
    """The batch's statistics; ``sink`` hears its progress (the bootstrap of
    every model and comparison takes tens of seconds on a busy CPU), and
    ``cancel`` stops it between resamples (raising Cancelled)."""
    if sink is None:
        return _analyse(batch, resamples, seed, None, cancel)
    with job(sink, JOB, "Statistics over the runs and the test images"):
        return _analyse(batch, resamples, seed, sink, cancel)


def _analyse(batch: Batch, resamples: int, seed: int, sink: Sink | None,
             cancel: threading.Event | None) -> BatchAnalysis:
    tuned = _by_seed(batch, TUNED)
    base = _by_seed(batch, BASELINE) if batch.baseline else []
    probe = _by_seed(batch, PROBE) if batch.probe else []
    predictions: dict[tuple[str, int], Predictions] = {}
    intervals: list[RunInterval] = []
    for r in [x for x in tuned + base + probe if x is not None]:
        if r.predictions_path.is_file():
            p = read_predictions(r.predictions_path, batch.classes)
            predictions[(r.label, r.seed)] = p
            if r.label != PROBE:
                intervals += _auc_intervals(batch, r, p)

    # The test-image intervals need every run on the same images, in one order.
    reference = next(iter(predictions.values()), None)
    same = {k: p for k, p in predictions.items()
            if reference is not None and p.paths == reference.paths}
    positive = batch.positive_class or batch.classes[-1]
    unit = "image"
    test: dict[str, dict[str, Bounded]] = {}
    probas = {label: [same[(label, s)].probabilities for s in batch.seeds if (label, s) in same]
              for label in (TUNED, BASELINE, PROBE)}
    patients = reference.patients if reference is not None else None
    compared = [o for o in (BASELINE, PROBE) if probas[TUNED] and probas[o]]
    loops = sum(1 for ps in probas.values() if ps) + len(compared)
    tick = _Ticks(sink, loops * resamples, cancel) if reference is not None else None
    if reference is not None and resamples == 0:  # what the end's bootstrap will resample
        unit = unit_of(patients, len(reference.labels))
    for label, ps in probas.items():
        if ps and reference is not None and resamples > 0:
            test[label], unit = bootstrap_figures(reference.labels, ps, batch.classes, positive,
                                                  patients, resamples, seed, tick=tick)
    diffs: dict[str, dict[str, Difference]] = {}
    for other in compared:
        if reference is not None and resamples > 0:
            diffs[other] = paired_bootstrap(reference.labels, probas[TUNED], probas[other],
                                            batch.classes, positive, patients, resamples, seed,
                                            tick=tick)

    first = next((r.metrics for r in tuned + base + probe if r is not None and r.metrics), None)
    rows: list[MeasureRow] = []
    if first is not None:
        for key, label, _ in first.measures():
            values = {TUNED: tuple(_value(r, key) for r in tuned)}
            if batch.baseline:
                values[BASELINE] = tuple(_value(r, key) for r in base)
            if batch.probe:
                values[PROBE] = tuple(_value(r, key) for r in probe)
            row = MeasureRow(key, label, values[TUNED], summarize(values[TUNED]),
                             seeds={k: seed_interval(v) for k, v in values.items()},
                             test={k: t[key] for k, t in test.items() if key in t}
                             if resamples > 0 else
                             {k: Bounded(None, None, "bootstrap", LATER) for k in values})
            if BASELINE in values:
                row = replace(row, baseline=values[BASELINE],
                              baseline_summary=summarize(values[BASELINE]),
                              difference=diffs.get(BASELINE, {}).get(key))
            if PROBE in values:
                row = replace(row, probe=values[PROBE], probe_summary=summarize(values[PROBE]),
                              probe_difference=diffs.get(PROBE, {}).get(key))
            rows.append(row)

    against: dict[str, list[SeedComparison]] = {BASELINE: [], PROBE: []}
    for other, found in against.items():
        for s in batch.seeds:
            a, b = predictions.get((TUNED, s)), predictions.get((other, s))
            if a is not None and b is not None and a.paths == b.paths:
                found.append(SeedComparison(s, mcnemar_test(a.correct, b.correct), other))
    return BatchAnalysis(batch, tuple(rows), tuple(intervals), tuple(against[BASELINE]),
                         tuple(against[PROBE]), unit, resamples)


def metrics_rows(analysis: BatchAnalysis, label: str = TUNED) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the Table-3-like table for one configuration: each
    run's figure, the mean and SD over runs, the spread over seeds and the
    interval over the test images."""
    b = analysis.batch
    runs = _by_seed(b, label)
    failed = {r.seed for r in b.runs_of(label, finished_only=False) if not r.finished}
    header = ["Figure (average)"] + [
        f"Run {i + 1} (seed {s})" for i, s in enumerate(b.seeds)
    ] + ["Mean", "SD", "CV", "95% over seeds (t)",
         f"95% over test {analysis.unit}s (bootstrap)"]
    out = []
    for row in analysis.rows:
        values = {TUNED: row.tuned, BASELINE: row.baseline, PROBE: row.probe}[label]
        summary = {TUNED: row.tuned_summary, BASELINE: row.baseline_summary,
                   PROBE: row.probe_summary}[label]
        if summary is None:
            continue
        cells = [row.label] + [
            format_value(v) if r is not None else ("failed" if s in failed else "not run")
            for v, r, s in zip(values, runs, b.seeds, strict=True)]
        cells += [format_value(summary.mean), format_value(summary.sd),
                  format_value(summary.cv, 3), format_bounded(row.seeds.get(label)),
                  format_bounded(row.test.get(label))]
        out.append(cells)
    return header, out


def metrics_note(analysis: BatchAnalysis, label: str = TUNED) -> str:
    rows = analysis.rows
    first = ({TUNED: rows[0].tuned_summary, BASELINE: rows[0].baseline_summary,
              PROBE: rows[0].probe_summary}[label] if rows else None)
    n = first.n if first is not None else 0
    unit = "patients (every image names one)" if analysis.unit == "patient" else \
        "images within each class"
    text = (
        f"n = {count(n, 'finished run')}. Mean and sample SD (n - 1) over runs; CV = SD / mean. "
        "Two intervals, each named for what it resamples: '95% over seeds' is Student's t "
        "over the runs (how much training varies on this one test set; fewer than three "
        "runs: too few to say), '95% over test' is a percentile bootstrap of the mean over "
        f"runs with the test {unit} resampled ("
        + (f"{analysis.resamples} resamples" if analysis.resamples else
           "computed once the batch has ended") + "): how much "
        "the figure could move with another test sample, usually the larger uncertainty. "
        "Both stay within 0..1. "
        "Per-class figures take that class as positive; 'weighted' averages weight each "
        "class by its number of test images (the C-NMC 2019 metric for F1); 'macro' "
        "averages weight classes equally. Micro-averaged precision, recall and F1 equal "
        "accuracy for single-label data and are not repeated."
    )
    if n == 1:
        text += " With one run no spread over seeds can be given."
    return text


def comparison_rows(analysis: BatchAnalysis, against: str = BASELINE
                    ) -> tuple[list[str], list[list[str]]]:
    """Tuned against the baseline (or the probe) on the same test images:
    the difference of the means over seeds, its paired-bootstrap interval and p."""
    header = ["Figure (average)", "Tuned mean", f"{against.capitalize()} mean", "Mean difference",
              "95% CI of difference", "p (two-sided)", "Method"]
    out = []
    for row in analysis.rows:
        other, d = row.against(against)
        if d is None or other is None:
            continue
        floor = d.p_value is not None and d.p_value <= 1 / d.resamples
        out.append([
            row.label, format_value(row.tuned_summary.mean), format_value(other.mean),
            format_value(d.difference), format_bounded(Bounded(d.low, d.high, d.method)),
            f"< {1 / d.resamples:.4f}" if floor else format_value(d.p_value, 4),
            f"{d.method}, {d.resamples} resamples",
        ])
    return header, out


def comparison_note(analysis: BatchAnalysis) -> str:
    """What the paired comparison is, in words for every front end."""
    unit = "patients" if analysis.unit == "patient" else "images within each class"
    return ("Difference = tuned - other, each the mean over its runs, both scored on the same "
            f"resamples of the test {unit}; the p-value is the bootstrap's two-sided share "
            "of resamples on the far side of 0. McNemar's test per seed, below, compares "
            "right and wrong answers image by image.")
