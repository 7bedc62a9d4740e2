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

import datetime as _dt
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from allgui.core.errors import ProjectError
from allgui.core.files.atomic import atomic_write_text
from allgui.core.files.fresh import fresh_folder
from allgui.core.files.untrusted import plain_name
from allgui.core.project import Project
from allgui.core.validation.predictions import (  # their old home, kept for older imports
    Predictions as Predictions,
)
from allgui.core.validation.predictions import read_predictions as read_predictions
from allgui.core.validation.predictions import write_predictions as write_predictions
from allgui.core.validation.process import process_gone
from allgui.core.validation.provenance import (
    DatasetRecord,
    ModelRecord,
    SplitRecord,
    StudySummary,
)
from allgui.core.validation.record import now_utc
from allgui.core.validation.run_record import BASELINE as BASELINE
from allgui.core.validation.run_record import PROBE, TUNED, Configuration, RunRecord

BATCH_FILE = "batch.json"


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


def read_batches(project: Project) -> tuple[list[Batch], list[str]]:
    """Every batch folder of the project read once: the readable batches, oldest
    first (by creation, then name), and why each of the others cannot be used
    (a damaged or crafted batch.json), so a command can say so."""
    if not project.runs_dir.is_dir():
        return [], []
    batches, unusable = [], []
    for folder in sorted(project.runs_dir.iterdir()):
        if (folder / BATCH_FILE).is_file():
            try:
                batches.append(load_batch(folder))
            except ProjectError as exc:
                unusable.append(exc.message)
    return sorted(batches, key=lambda b: (b.created, b.batch_id)), unusable


def list_batches(project: Project) -> list[Batch]:
    """Every readable batch of the project, oldest first (damaged ones skipped)."""
    return read_batches(project)[0]


def latest_batch(project: Project, with_finished_runs: bool = True) -> Batch | None:
    """The newest batch (by default the newest with at least one finished
    tuned run, so a batch stopped before its first run is passed over).

    Its :meth:`Batch.chosen_run` gives the checkpoint to export (chosen on
    validation, never on the test set): ``latest_batch(p).chosen_run().checkpoint``.
    """
    return newest(list_batches(project), with_finished_runs)


def newest(batches: list[Batch], with_finished_runs: bool = True) -> Batch | None:
    """The last of ``batches`` (oldest first), as :func:`latest_batch` chooses."""
    for batch in reversed(batches):
        if not with_finished_runs or batch.runs_of(TUNED):
            return batch
    return None
