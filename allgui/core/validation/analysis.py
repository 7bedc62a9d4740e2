"""Statistics of a validation batch: each figure over runs (mean, sd, CV,
95% t-interval), bootstrap intervals for each run's AUC on the test set,
and, when a baseline ran on the same seeds, paired t-tests and McNemar's
test per seed; the same against the linear probe when it ran."""

from __future__ import annotations

from dataclasses import dataclass, replace

from allgui.core.files.text import count
from allgui.core.validation.batch import (
    BASELINE,
    PROBE,
    TUNED,
    Batch,
    RunRecord,
    read_predictions,
)
from allgui.core.validation.stats import (
    Interval,
    McNemarTest,
    PairedTest,
    Summary,
    bootstrap_auc,
    format_interval,
    format_value,
    mcnemar_test,
    paired_t_test,
    summarize,
)


@dataclass(frozen=True)
class MeasureRow:
    """One figure (say weighted F1) across the runs of a batch."""

    key: str
    label: str  # names the average: 'F1, weighted by class support (C-NMC metric)'
    tuned: tuple[float | None, ...]  # one per seed, in seed order; None = run missing
    tuned_summary: Summary
    baseline: tuple[float | None, ...] = ()
    baseline_summary: Summary | None = None
    paired: PairedTest | None = None  # tuned - baseline over the same seeds
    probe: tuple[float | None, ...] = ()
    probe_summary: Summary | None = None
    probe_paired: PairedTest | None = None  # tuned - probe over the same seeds

    def against(self, label: str) -> tuple[Summary | None, PairedTest | None]:
        if label == PROBE:
            return self.probe_summary, self.probe_paired
        return self.baseline_summary, self.paired


@dataclass(frozen=True)
class RunInterval:
    run: str
    seed: int
    interval: Interval


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


def analyse(batch: Batch, resamples: int = 2000, seed: int = 0) -> BatchAnalysis:
    tuned = _by_seed(batch, TUNED)
    base = _by_seed(batch, BASELINE) if batch.baseline else []
    probe = _by_seed(batch, PROBE) if batch.probe else []
    first = next((r.metrics for r in tuned + base + probe if r is not None and r.metrics), None)
    rows: list[MeasureRow] = []
    if first is not None:
        for key, label, _ in first.measures():
            tv = tuple(_value(r, key) for r in tuned)
            row = MeasureRow(key, label, tv, summarize(tv))
            if batch.baseline:
                bv = tuple(_value(r, key) for r in base)
                row = MeasureRow(key, label, tv, row.tuned_summary, bv, summarize(bv),
                                 paired_t_test(tv, bv))
            if batch.probe:
                pv = tuple(_value(r, key) for r in probe)
                row = replace(row, probe=pv, probe_summary=summarize(pv),
                              probe_paired=paired_t_test(tv, pv))
            rows.append(row)

    intervals: list[RunInterval] = []
    predictions = {}
    positive = batch.classes.index(batch.positive_class)
    for r in [x for x in tuned + base if x is not None]:
        if not r.predictions_path.is_file():
            continue
        p = read_predictions(r.predictions_path, batch.classes)
        predictions[(r.label, r.seed)] = p
        if len(batch.classes) == 2:
            iv = bootstrap_auc(p.labels == positive, p.probabilities[:, positive],
                               resamples=resamples, seed=seed)
            intervals.append(RunInterval(r.name, r.seed, iv))

    for r in [x for x in probe if x is not None and x.predictions_path.is_file()]:
        predictions[(PROBE, r.seed)] = read_predictions(r.predictions_path, batch.classes)
    against: dict[str, list[SeedComparison]] = {BASELINE: [], PROBE: []}
    for other, found in against.items():
        for s in batch.seeds:
            a, b = predictions.get((TUNED, s)), predictions.get((other, s))
            if a is not None and b is not None and a.paths == b.paths:
                found.append(SeedComparison(s, mcnemar_test(a.correct, b.correct), other))
    return BatchAnalysis(batch, tuple(rows), tuple(intervals), tuple(against[BASELINE]),
                         tuple(against[PROBE]))


def _ci(s: Summary) -> str:
    return format_interval(s.ci_low, s.ci_high)


def metrics_rows(analysis: BatchAnalysis, label: str = TUNED) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the Table-3-like table for one configuration."""
    b = analysis.batch
    runs = _by_seed(b, label)
    failed = {r.seed for r in b.runs_of(label, finished_only=False) if not r.finished}
    header = ["Figure (average)"] + [
        f"Run {i + 1} (seed {s})" for i, s in enumerate(b.seeds)
    ] + ["Mean", "SD", "CV", "95% CI (t)"]
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
                  format_value(summary.cv, 3), _ci(summary)]
        out.append(cells)
    return header, out


def metrics_note(analysis: BatchAnalysis, label: str = TUNED) -> str:
    rows = analysis.rows
    first = ({TUNED: rows[0].tuned_summary, BASELINE: rows[0].baseline_summary,
              PROBE: rows[0].probe_summary}[label] if rows else None)
    n = first.n if first is not None else 0
    df = f"{n - 1} degree{'s' if n - 1 != 1 else ''} of freedom" if n > 1 else "no interval"
    text = (
        f"n = {count(n, 'finished run')}. Mean and sample SD (n - 1) over runs; CV = SD / mean; "
        f"95% CI for the mean from Student's t ({df}). "
        "Per-class figures take that class as positive; 'weighted' averages weight each "
        "class by its number of test images (the C-NMC 2019 metric for F1); 'macro' "
        "averages weight classes equally. Micro-averaged precision, recall and F1 equal "
        "accuracy for single-label data and are not repeated. Intervals are not clipped "
        "to 0..1."
    )
    if n == 1:
        text += " With one run no spread can be given."
    elif 1 < n < 5:
        text += f" With only {n} runs the intervals are wide; say so when quoting them."
    return text


def comparison_rows(analysis: BatchAnalysis, against: str = BASELINE
                    ) -> tuple[list[str], list[list[str]]]:
    """Tuned against the baseline (or the probe) over the same seeds: paired t-test per figure."""
    header = ["Figure (average)", "Tuned mean", f"{against.capitalize()} mean", "Mean difference",
              "95% CI of difference", "t", "df", "p (two-sided)"]
    out = []
    for row in analysis.rows:
        other, p = row.against(against)
        if p is None or other is None:
            continue
        out.append([
            row.label, format_value(row.tuned_summary.mean), format_value(other.mean),
            format_value(p.mean_difference), format_interval(p.ci_low, p.ci_high),
            format_value(p.t, 3), str(p.df) if p.df is not None else "n/a",
            format_value(p.p_value, 4),
        ])
    return header, out
