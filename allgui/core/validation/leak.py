"""The leak, measured: the project's protocol run twice on the same data,
once with the image split and once with the patient split, and what each
says about validation and about the test set.

An image-level split puts cells of one patient on both sides of the
validation line; a model that learns to recognise patients then scores well
on validation. The patient split cannot. Both arms use the engine's own
search (:func:`~allgui.core.search.runner.run_search`) and validation batch
(:func:`~allgui.core.validation.run.run_batch`) with the same settings and
seeds, each in a project of its own under ``<project>/leak/<split>/`` (its own
study.db, cache and runs), so either can be opened, reported or resumed like
any project. The comparison is written to ``<project>/leak/leak.json``.

On data without patient IDs the two splits are the same thing: the
measurement is refused with a sentence saying so.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from allgui.core.errors import AllguiError, Cancelled, DatasetError
from allgui.core.events import Notice, Sink, job, null_sink
from allgui.core.files.atomic import atomic_write_text
from allgui.core.project import CONFIG_NAME, Project
from allgui.core.validation.batch import Batch, latest_batch
from allgui.core.validation.record import now_utc
from allgui.core.validation.recorded import run_figures
from allgui.core.validation.stats import Summary

JOB = "leak"
LEAK_DIR = "leak"
RESULT_FILE = "leak.json"
SPLITS = ("image", "patient")


@dataclass(frozen=True)
class LeakSettings:
    """The protocol's size; ``None`` = the project's own search settings."""

    trials: int | None = None
    epochs: int | None = None
    views: int | None = None
    startup_trials: int | None = None
    runs: int = 3
    run_epochs: int = 40
    device: str | None = None

    def __post_init__(self) -> None:
        for name in ("trials", "epochs", "views", "runs", "run_epochs"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise AllguiError(f"The leak measurement's {name.replace('_', ' ')} must be at "
                                  f"least 1, not {value}.")


@dataclass(frozen=True)
class Figure:
    """Mean, SD and n of one figure over runs (None where there was none)."""

    mean: float | None
    sd: float | None
    n: int

    @classmethod
    def of(cls, s: Summary) -> Figure:
        return cls(s.mean, s.sd, s.n)


@dataclass(frozen=True)
class SplitOutcome:
    split: str  # 'image' or 'patient'
    folder: str  # the arm's project folder
    objective: str  # the search's objective, in words
    best_trial: int
    best_value: float  # the best trial's objective on validation
    val_accuracy: Figure  # the final runs' validation accuracy (kept epoch)
    test_accuracy: Figure
    test_auc: Figure
    test_set: str
    patients_in_two_parts: int  # from the split's leakage audit

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SplitOutcome:
        figs = {k: Figure(**d[k]) for k in ("val_accuracy", "test_accuracy", "test_auc")}
        return cls(**{**d, **figs})


@dataclass(frozen=True)
class LeakResult:
    image: SplitOutcome
    patient: SplitOutcome
    settings: dict[str, Any]  # trials, epochs, views, runs, run epochs as run
    written: str

    @property
    def validation_inflation(self) -> float:
        """Image split's best-trial validation figure minus the patient split's."""
        return self.image.best_value - self.patient.best_value

    @property
    def test_difference(self) -> float | None:
        a, b = self.image.test_accuracy.mean, self.patient.test_accuracy.mean
        return None if a is None or b is None else a - b

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.image.to_dict(), "patient": self.patient.to_dict(),
                "settings": self.settings, "written": self.written}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LeakResult:
        return cls(SplitOutcome.from_dict(d["image"]), SplitOutcome.from_dict(d["patient"]),
                   dict(d.get("settings") or {}), str(d.get("written", "")))

    def summary(self) -> str:
        """What was measured, in plain sentences."""
        i, p, gap = self.image, self.patient, self.validation_inflation
        text = (f"Best trial's {i.objective}: {i.best_value:.4f} with the image split, "
                f"{p.best_value:.4f} with the patient split ({gap:+.4f}).")
        test = self.test_difference
        if test is not None:
            text += (f" Test accuracy on the same test images: {i.test_accuracy.mean:.4f} and "
                     f"{p.test_accuracy.mean:.4f} ({test:+.4f}).")
        if gap > 0 and (test is None or test < gap):
            text += (f" The image split's validation is {gap:.4f} higher than the patient "
                     "split's" + ("" if test is None else
                                  f", {gap - test:.4f} more than the test bears out")
                     + ": that is the leak, measured.")
        else:
            text += (" Here the image split did not inflate validation beyond what the test "
                     "shows; with few trials and runs, chance can hide a leak as easily as "
                     "make one.")
        return text


def result_path(project: Project) -> Path:
    return project.root / LEAK_DIR / RESULT_FILE


def load_leak(project: Project) -> LeakResult | None:
    """The last measurement written for ``project``, or None."""
    path = result_path(project)
    if not path.is_file():
        return None
    try:
        return LeakResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AllguiError(f"The leak measurement in {path} cannot be read; run it again.",
                          f"{type(exc).__name__}: {exc}") from exc


def check_patients(project: Project, sink: Sink = null_sink,
                   cancel: threading.Event | None = None) -> None:
    """Refuse, in plain words, data whose images carry no patient IDs."""
    from allgui.core.dataset.discover import discover

    if not project.settings.dataset.path:
        raise DatasetError("The project has no dataset yet; choose one first.")
    index = discover(project.settings.dataset.path, sink, cancel)
    if not any(r.patient for r in index.records):
        raise DatasetError(
            "The leak cannot be measured on this dataset: its images carry no patient IDs, "
            "so an image split and a patient split are the same split here. It needs data "
            "that names each image's patient (C-NMC's file names, or a manifest with a "
            "patient column).")


def measure_leak(project: Project, settings: LeakSettings = LeakSettings(),  # noqa: B008
                 sink: Sink = null_sink, cancel: threading.Event | None = None) -> LeakResult:
    """Run both arms (each resumes where it stopped) and write ``leak.json``."""
    cancel = cancel if cancel is not None else threading.Event()
    check_patients(project, sink, cancel)
    outcomes: dict[str, SplitOutcome] = {}
    with job(sink, JOB, "Measuring the leak: image split, then patient split", 2) as j:
        search = _search_settings(project, settings)
        for k, split in enumerate(SPLITS):
            sink(Notice(JOB, text=f"{split.capitalize()} split ({k + 1} of 2): search of "
                                  f"{search.trials} trials, then {settings.runs} runs."))
            outcomes[split] = _arm(project, split, search, settings, sink, cancel)
        result = LeakResult(outcomes["image"], outcomes["patient"], {
            "trials": search.trials, "epochs": search.epochs, "views": search.views,
            "startup_trials": search.startup_trials, "objective": search.objective,
            "runs": settings.runs, "run_epochs": settings.run_epochs}, now_utc())
        atomic_write_text(result_path(project), json.dumps(result.to_dict(), indent=2))
        j.finish(result.summary())
    return result


def _search_settings(project: Project, settings: LeakSettings):
    from allgui.core.search.settings import SearchSettings

    changes = {k: getattr(settings, k) for k in ("trials", "epochs", "views", "startup_trials")
               if getattr(settings, k) is not None}
    if settings.device is not None:
        changes["device"] = settings.device
    return dataclasses.replace(SearchSettings.from_project(project), study_name="search",
                               **changes)


def arm_project(project: Project, split: str) -> Project:
    """The arm's own project: the parent's settings with this split method and
    its own study.db, made on first use and kept in step with the parent."""
    root = project.root / LEAK_DIR / split
    wanted = dataclasses.replace(
        project.settings, split=dataclasses.replace(project.settings.split, method=split),
        storage="")
    if (root / CONFIG_NAME).is_file():
        arm = Project.open(root)
        if (arm.settings.dataset, arm.settings.split, arm.settings.model) != (
                wanted.dataset, wanted.split, wanted.model):
            arm.update(dataset=wanted.dataset, split=wanted.split, model=wanted.model)
        return arm
    return Project.create(root, wanted)


def _arm(project: Project, split: str, search, settings: LeakSettings, sink: Sink,
         cancel: threading.Event) -> SplitOutcome:
    from allgui.core.search.runner import run_search
    from allgui.core.validation.defaults import ValidationDefaults
    from allgui.core.validation.run import run_batch

    arm = arm_project(project, split)
    stopped = (f"Stopped during the {split} split; finished trials and runs are kept: run "
               "the measurement again to continue.")
    result = run_search(arm, search, sink, cancel)
    if cancel.is_set():
        raise Cancelled(stopped)
    if result.best is None:
        raise AllguiError(f"The {split} split's search ended without a finished trial; "
                          "run the measurement again to continue it.")
    batch = _finished_batch(arm, result.best.number, settings)
    if batch is None:
        # The arm's protocol (its views and patience), without baselines: one run per seed.
        batch = run_batch(arm, ValidationDefaults.from_project(arm).settings(
            runs=settings.runs, epochs=settings.run_epochs, probe=False, baseline=None,
            device=settings.device), sink, cancel, resume=True)
        if cancel.is_set():
            raise Cancelled(stopped)
    from allgui.core.train.objective import LABELS

    figures = run_figures(batch)
    overlaps = (batch.dataset.audit or {}).get("overlaps") or []
    crossing = {p for o in overlaps for p in (o.get("patients") or [])}
    return SplitOutcome(
        split=split, folder=str(arm.root), objective=LABELS.get(search.objective,
                                                                search.objective),
        best_trial=result.best.number, best_value=float(result.best.value or 0.0),
        val_accuracy=Figure.of(figures.val_accuracy),
        test_accuracy=Figure.of(figures.test_accuracy), test_auc=Figure.of(figures.test_auc),
        test_set=batch.test_set, patients_in_two_parts=len(crossing))


def _finished_batch(arm: Project, best_trial: int, settings: LeakSettings) -> Batch | None:
    """The arm's finished batch of this protocol, when a run already made it."""
    batch = latest_batch(arm)
    if (batch is not None and batch.status == "finished" and batch.tuned.trial == best_trial
            and len(batch.seeds) == settings.runs and batch.max_epochs == settings.run_epochs):
        return batch
    return None
