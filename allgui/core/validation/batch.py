"""A validation batch on disk: what was trained, on which seeds, and what
each run reached on the test set.

    <project>/runs/<batch-id>/batch.json                 the record (this module)
    <project>/runs/<batch-id>/run-<k>/checkpoint.pt      best epoch of tuned run k
    <project>/runs/<batch-id>/run-<k>/metrics.json       its test-set figures and curves
    <project>/runs/<batch-id>/run-<k>/predictions.csv    one row per test image
    <project>/runs/<batch-id>/baseline-<k>/...           the same for the baseline
    <project>/runs/<batch-id>/probe/...                  the linear probe (one for all seeds)

``batch.json`` is rewritten (atomically) after every run, so a batch that
is stopped or crashes keeps every run that finished.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from allgui.core.errors import ProjectError
from allgui.core.files.atomic import atomic_write_text
from allgui.core.files.fresh import fresh_folder
from allgui.core.files.text import csv_row, csv_value
from allgui.core.files.untrusted import inside, plain_name
from allgui.core.model.decision import ARGMAX, DecisionRule
from allgui.core.project import Project
from allgui.core.validation.metrics import RunMetrics
from allgui.core.validation.process import process_gone
from allgui.core.validation.provenance import (
    DatasetRecord,
    ModelRecord,
    SplitRecord,
    StudySummary,
)
from allgui.core.validation.record import now_utc

BATCH_FILE = "batch.json"
TUNED, BASELINE, PROBE = "tuned", "baseline", "probe"
_FOLDER_PREFIX = {TUNED: "run", BASELINE: "baseline", PROBE: "probe"}


@dataclass(frozen=True)
class RunRecord:
    """One training run of a batch (``label`` 'tuned', 'baseline' or 'probe', ``index`` from 1)."""

    label: str
    index: int
    seed: int
    status: str  # 'finished' or 'failed'
    folder: str = ""  # absolute path of the run's folder
    epochs_run: int = 0
    best_epoch: int = 0  # 1-based epoch whose weights were kept
    duration_s: float = 0.0
    reason: str = ""  # why it failed
    metrics: RunMetrics | None = None
    curves: dict[str, list[float]] = field(default_factory=dict)  # per-epoch figures
    # temperature and reliability before/after on the test set (validation.calibration)
    calibration: dict[str, Any] = field(default_factory=dict)

    @property
    def kept_val_loss(self) -> float | None:
        """The validation loss at the epoch whose weights were kept."""
        losses = self.curves.get("val_loss") or []
        if not 1 <= self.best_epoch <= len(losses) or not math.isfinite(losses[self.best_epoch - 1]):
            return None
        return float(losses[self.best_epoch - 1])

    @property
    def name(self) -> str:
        return f"{_FOLDER_PREFIX.get(self.label, self.label)}-{self.index}"

    @property
    def finished(self) -> bool:
        return self.status == "finished" and self.metrics is not None

    @property
    def kept(self) -> bool:
        """Finished, and its files still there: a continued batch runs again a
        run whose folder (or checkpoint, or predictions) was deleted."""
        return self.finished and self.checkpoint.is_file() and self.predictions_path.is_file()

    @property
    def checkpoint(self) -> Path:
        return Path(self.folder) / "checkpoint.pt"

    @property
    def predictions_path(self) -> Path:
        return Path(self.folder) / "predictions.csv"

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "index": self.index,
            "seed": self.seed,
            "status": self.status,
            "folder": Path(self.folder).name,
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "duration_s": self.duration_s,
            "reason": self.reason,
            "metrics": self.metrics.to_dict() if self.metrics else None,
            "curves": self.curves,
            "calibration": self.calibration,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], batch_dir: Path) -> RunRecord:
        # batch.json is read as untrusted: a run's folder is one name inside the batch
        label = data["label"]
        if label not in _FOLDER_PREFIX:
            raise ValueError(f"unknown run label {label!r}")
        index = int(data["index"])
        # no folder recorded (a run that failed before making one): its usual name,
        # so its files are never looked for wherever the command happens to run
        name = data.get("folder") or f"{_FOLDER_PREFIX[label]}-{index}"
        name = plain_name(name, "A run's folder in batch.json")
        folder = str(inside(batch_dir, name, "A run's folder in batch.json"))
        return cls(
            label=label,
            index=index,
            seed=int(data["seed"]),
            status=str(data["status"]),
            folder=folder,
            epochs_run=int(data.get("epochs_run", 0)),
            best_epoch=int(data.get("best_epoch", 0)),
            duration_s=float(data.get("duration_s", 0.0)),
            reason=data.get("reason", ""),
            metrics=RunMetrics.from_dict(data["metrics"]) if data.get("metrics") else None,
            curves={k: [float(x) for x in v] for k, v in (data.get("curves") or {}).items()},
            calibration=dict(data.get("calibration") or {}),
        )


@dataclass(frozen=True)
class Configuration:
    """The hyperparameters a run trains with, and where they came from."""

    params: dict[str, Any]  # lr, weight_decay, dropout1, dropout2, hidden, batch_size, ...
    source: str  # 'trial 7 (best of the study)', 'trial 3', 'entered by the user', ...
    trial: int | None = None  # the study's trial number, when from a trial

    def to_dict(self) -> dict[str, Any]:
        return {"params": dict(self.params), "source": self.source, "trial": self.trial}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Configuration:
        return cls(dict(data["params"]), data["source"], data.get("trial"))


@dataclass(frozen=True)
class Batch:
    """A validation batch: its settings, environment and runs."""

    batch_id: str
    folder: str  # absolute path of runs/<batch-id>
    created: str  # ISO date-time, UTC
    status: str  # 'running', 'finished', 'stopped', 'partial' or 'failed' (see ``state``)
    tuned: Configuration
    baseline: Configuration | None
    seeds: tuple[int, ...]
    max_epochs: int
    patience: int
    test_source: str  # 'official' or 'held-out'
    test_set: str  # plain description shown on every table: which set, how many images
    classes: tuple[str, ...]
    positive_class: str
    model: ModelRecord  # backbone, weights, image size, mode
    dataset_fingerprint: str
    split: SplitRecord
    environment: dict[str, str]  # versions, device, date
    study: StudySummary = field(default_factory=StudySummary)  # name, objective, direction
    dataset: DatasetRecord = field(default_factory=DatasetRecord)  # summary, parts, audit
    runs: tuple[RunRecord, ...] = ()
    finished_at: str = ""
    message: str = ""
    process: dict[str, Any] = field(default_factory=dict)  # pid, host, start of its writer
    probe: Configuration | None = None  # the linear probe's chosen C, when it ran
    # The probe's record, one per seed (it trains nothing: kept apart from ``runs``).
    probe_runs: tuple[RunRecord, ...] = ()

    @property
    def path(self) -> Path:
        return Path(self.folder)

    @property
    def state(self) -> str:
        """``status`` as a reader should take it: a 'running' batch whose
        process is gone (killed, power cut) is 'interrupted'."""
        if self.status == "running" and process_gone(self.process):
            return "interrupted"
        return self.status

    def runs_of(self, label: str, finished_only: bool = True) -> tuple[RunRecord, ...]:
        runs = self.probe_runs if label == PROBE else self.runs
        return tuple(r for r in runs if r.label == label and (r.finished or not finished_only))

    def chosen_run(self, label: str = TUNED) -> RunRecord | None:
        """The run to export: the finished run (with its checkpoint) whose
        validation loss at its kept epoch is lowest; the first run on a tie
        or when no run recorded it. The test set plays no part: choosing the
        best of N runs on the test set would make its test figures optimistic.
        """
        runs = [r for r in self.runs_of(label) if r.checkpoint.is_file()]
        if not runs:
            return None
        return min(runs, key=lambda r: (_or_inf(r.kept_val_loss), r.index))

    def selection_note(self, run: RunRecord) -> str:
        """How ``run`` was chosen, in the words the CLI, window and report use."""
        runs = [r for r in self.runs_of(run.label) if r.checkpoint.is_file()]
        if run.kept_val_loss is None:
            how = "no validation loss recorded, so the first finished run"
        elif len(runs) == 1:
            how = (f"the only finished run (validation loss {run.kept_val_loss:.4f} at its "
                   f"kept epoch {run.best_epoch})")
        else:
            how = (f"the lowest validation loss at the kept epoch ({run.kept_val_loss:.4f}, "
                   f"epoch {run.best_epoch}) among {len(runs)} finished runs")
        return (f"run {run.index} (seed {run.seed}) chosen by {how}; the test set played no "
                "part in the choice")

    def with_run(self, run: RunRecord) -> Batch:
        kept = [r for r in self.runs if (r.label, r.index) != (run.label, run.index)]
        return replace(self, runs=tuple(kept) + (run,))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "allgui-validation-batch",
            "batch_id": self.batch_id,
            "created": self.created,
            "finished_at": self.finished_at,
            "status": self.status,
            "message": self.message,
            "tuned": self.tuned.to_dict(),
            "baseline": self.baseline.to_dict() if self.baseline else None,
            "seeds": list(self.seeds),
            "max_epochs": self.max_epochs,
            "patience": self.patience,
            "test_source": self.test_source,
            "test_set": self.test_set,
            "classes": list(self.classes),
            "positive_class": self.positive_class,
            "model": self.model.to_dict(),
            "dataset_fingerprint": self.dataset_fingerprint,
            "split": self.split.to_dict(),
            "environment": self.environment,
            "study": self.study.to_dict(),
            "dataset": self.dataset.to_dict(),
            "runs": [r.to_dict() for r in self.runs],
            "process": dict(self.process),
            "probe": self.probe.to_dict() if self.probe else None,
            "probe_runs": [r.to_dict() for r in self.probe_runs],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], folder: Path) -> Batch:
        # The folder is the batch's identity (a renamed folder keeps its batch);
        # a batch_id in the file that is not a plain name ('../..') is refused.
        plain_name(data["batch_id"], "The batch_id in batch.json")
        return cls(
            batch_id=folder.name,
            folder=str(folder),
            created=data["created"],
            status=data["status"],
            tuned=Configuration.from_dict(data["tuned"]),
            baseline=Configuration.from_dict(data["baseline"]) if data.get("baseline") else None,
            seeds=tuple(int(s) for s in data["seeds"]),
            max_epochs=int(data["max_epochs"]),
            patience=int(data["patience"]),
            test_source=data["test_source"],
            test_set=data["test_set"],
            classes=tuple(data["classes"]),
            positive_class=data["positive_class"],
            model=ModelRecord.from_dict(data.get("model") or {}),
            dataset_fingerprint=data.get("dataset_fingerprint", ""),
            split=SplitRecord.from_dict(data.get("split") or {}),
            environment=dict(data.get("environment") or {}),
            study=StudySummary.from_dict(data.get("study") or {}),
            dataset=DatasetRecord.from_dict(data.get("dataset") or {}),
            runs=tuple(RunRecord.from_dict(r, folder) for r in data.get("runs", ())),
            finished_at=data.get("finished_at", ""),
            message=data.get("message", ""),
            process=dict(data.get("process") or {}),
            probe=Configuration.from_dict(data["probe"]) if data.get("probe") else None,
            probe_runs=tuple(RunRecord.from_dict(r, folder) for r in data.get("probe_runs", ())),
        )

    def save(self) -> None:
        atomic_write_text(self.path / BATCH_FILE, json.dumps(self.to_dict(), indent=1))


def _or_inf(value: float | None) -> float:
    return float("inf") if value is None else value


def new_batch_id() -> str:
    """The name a new batch asks for: the UTC time. Only :class:`BatchWriter`
    claims it (numbered when taken), so two batches never share a folder."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")


class BatchWriter:
    """A running batch as last saved: each run is on disk before the next starts.

    A new batch (``runs_dir`` given) gets a folder of its own, made
    exclusively under ``runs_dir``: two validations started in the same
    second never write into one folder. A continued batch keeps its folder."""

    def __init__(self, batch: Batch, runs_dir: Path | None = None) -> None:
        if runs_dir is not None:
            folder = fresh_folder(runs_dir, batch.batch_id, "the validation batch")
            batch = replace(batch, batch_id=folder.name, folder=str(folder.resolve()))
        self.batch = batch
        batch.path.mkdir(parents=True, exist_ok=True)
        batch.save()

    def add(self, record: RunRecord) -> None:
        self.batch = self.batch.with_run(record)
        self.batch.save()

    def end(self, status: str, message: str) -> Batch:
        self.batch = replace(self.batch, status=status, message=message, finished_at=now_utc())
        self.batch.save()
        return self.batch


def load_batch(folder: str | Path) -> Batch:
    folder = Path(folder)
    path = folder / BATCH_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Batch.from_dict(data, folder.resolve())
    except FileNotFoundError as exc:
        raise ProjectError(f"{folder} holds no validation batch.") from exc
    except ProjectError as exc:  # a crafted name or path
        raise ProjectError(f"The validation record {path} cannot be used. {exc.message}",
                           exc.details) from exc
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ProjectError(f"The validation record {path} cannot be read.", str(exc)) from exc


def unusable_batches(project: Project) -> list[str]:
    """Why each batch folder of the project that :func:`list_batches` leaves out
    cannot be used (a damaged or crafted batch.json), so a command can say so."""
    if not project.runs_dir.is_dir():
        return []
    out = []
    for folder in sorted(project.runs_dir.iterdir()):
        if (folder / BATCH_FILE).is_file():
            try:
                load_batch(folder)
            except ProjectError as exc:
                out.append(exc.message)
    return out


def list_batches(project: Project) -> list[Batch]:
    """Every readable batch of the project, oldest first (damaged ones skipped)."""
    if not project.runs_dir.is_dir():
        return []
    out = []
    for folder in sorted(project.runs_dir.iterdir()):
        if (folder / BATCH_FILE).is_file():
            try:
                out.append(load_batch(folder))
            except ProjectError:
                continue
    return sorted(out, key=lambda b: (b.created, b.batch_id))


def latest_batch(project: Project, with_finished_runs: bool = True) -> Batch | None:
    """The newest batch (by default the newest with at least one finished
    tuned run, so a batch stopped before its first run is passed over).

    Its :meth:`Batch.chosen_run` gives the checkpoint to export (chosen on
    validation, never on the test set): ``latest_batch(p).chosen_run().checkpoint``.
    """
    for batch in reversed(list_batches(project)):
        if not with_finished_runs or batch.runs_of(TUNED):
            return batch
    return None


# -- predictions ------------------------------------------------------------------


@dataclass(frozen=True)
class Predictions:
    """One model's output on every test image, in the test set's order."""

    paths: tuple[str, ...]
    patients: tuple[str, ...]
    labels: np.ndarray  # true class ids
    probabilities: np.ndarray  # images x classes
    classes: tuple[str, ...]
    rule: DecisionRule = ARGMAX  # how probabilities became answers (a model's threshold)

    @property
    def predicted(self) -> np.ndarray:
        return self.rule.predict(self.probabilities)

    @property
    def correct(self) -> np.ndarray:
        return self.predicted == self.labels


def write_predictions(path: Path, preds: Predictions) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    # cells escaped (no spreadsheet formulas from file or class names); read back by csv_value
    w.writerow(csv_row(["path", "patient", "true", "predicted"]
                       + [f"p_{c}" for c in preds.classes]))
    for i, p in enumerate(preds.paths):
        w.writerow(csv_row(
            [p, preds.patients[i], preds.classes[int(preds.labels[i])],
             preds.classes[int(preds.predicted[i])]]
            + [f"{v:.6f}" for v in preds.probabilities[i]]
        ))
    atomic_write_text(path, buf.getvalue())


def read_predictions(path: Path, classes: Sequence[str]) -> Predictions:
    classes = tuple(classes)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [{csv_value(k): csv_value(v) for k, v in r.items()} for r in csv.DictReader(fh)]
        labels = np.asarray([classes.index(r["true"]) for r in rows], dtype=np.int64)
        proba = np.asarray([[float(r[f"p_{c}"]) for c in classes] for r in rows], dtype=float)
    except (OSError, KeyError, ValueError) as exc:
        raise ProjectError(f"The predictions file {path} cannot be read.", str(exc)) from exc
    return Predictions(
        paths=tuple(r["path"] for r in rows),
        patients=tuple(r["patient"] for r in rows),
        labels=labels,
        probabilities=proba.reshape(len(rows), len(classes)),
        classes=classes,
    )
