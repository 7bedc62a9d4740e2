"""``allgui optimize``: run or continue a project's hyperparameter search.

Progress goes to stderr (feature cache, one bar per trial); the closing
table of the best trials (like the paper's Table 2) and the parameter
importances go to stdout. Ctrl+C once stops at the next batch, keeping every
finished trial; running the command again continues the study.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from allgui.cli.progress_printer import ProgressPrinter
from allgui.core.model.measures import OBJECTIVES, name_of, short


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "optimize",
        help="search hyperparameters (Optuna TPE) for a project; run again to continue",
    )
    parser.add_argument("project", help="the project folder (made by 'allgui new')")
    parser.add_argument("--trials", type=int, help="finished trials the study should hold (20)")
    parser.add_argument("--epochs", type=int, help="epochs per trial (10)")
    parser.add_argument("--mode", choices=("cached", "online"),
                        help="cached: backbone features computed once for all trials (fast; "
                             "frozen backbone); online: the backbone runs every epoch")
    parser.add_argument("--views", type=int, help="augmented views per image, cached mode (10)")
    parser.add_argument("--engine", choices=("auto", "onnxruntime", "openvino", "torch"),
                        help="what computes cached features on a CPU: 'auto' (OpenVINO where "
                        "installed, else onnxruntime; saved in the project)")
    parser.add_argument("--feature-precision", choices=("fp32", "bf16", "int8"),
                        help="of the CPU features: fp32 (default), bf16 (CPUs with native bf16) "
                        "or int8 (OpenVINO, calibrated on the project's images); a reduced "
                        "precision is used only when its features match fp32's on the project's "
                        "images, else fp32 with a sentence saying why")
    parser.add_argument("--backbone", help="timm backbone name (saved in the project)")
    parser.add_argument("--weights",
                        help="'imagenet', 'none', or a local weights file (saved in the project)")
    parser.add_argument("--finetune-stages", type=int,
                        help="train the backbone's last N stages too (online mode only)")
    parser.add_argument("--objective", type=name_of, choices=OBJECTIVES,
                        help="what the search maximises on validation (accuracy, as the paper)")
    parser.add_argument("--pruning", choices=("none", "median", "hyperband"),
                        help="stop unpromising trials early (none)")
    parser.add_argument("--seed", type=int, help="seed of the sampler, views and trials (0)")
    parser.add_argument("--startup-trials", type=int,
                        help="random trials before TPE models the results (10)")
    parser.add_argument("--multivariate", action=argparse.BooleanOptionalAction, default=None,
                        help="multivariate TPE (the recommended protocol) or Optuna's default "
                             "independent TPE (--no-multivariate, the paper protocol)")
    parser.add_argument("--augment-probability", type=float,
                        help="share of training images transformed in each view, the rest only "
                             "flipped (1.0 in the paper protocol, 0.5 in the recommended one)")
    parser.add_argument("--precision", choices=("bf16", "fp16", "fp32"),
                        help="autocast precision on a GPU (a CPU computes in fp32)")
    parser.add_argument("--study", help="study name inside the project's study.db")
    parser.add_argument("--storage",
                        help="keep the study in a database shared with workers, e.g. "
                             "postgresql://user@server:5432/allgui (saved in the project; "
                             "'project' = the project's own study.db)")
    parser.add_argument("--device", help="'auto' (GPU when there is one), 'cpu' or 'cuda'")
    parser.add_argument("--top", type=int, default=5, help="best trials in the table (5)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args) -> int:
    import dataclasses
    import threading

    from allgui import RESEARCH_NOTICE
    from allgui.cli._interrupt import StopOnInterrupt
    from allgui.core.errors import AllguiError
    from allgui.core.project import Project
    from allgui.core.search.importance import estimate_importances, format_estimate
    from allgui.core.search.runner import SearchSettings, load_study, search_with_model

    project = Project.open(args.project)
    if args.storage is not None:
        from allgui.core.search.storage import mask_url, normalize_storage_url

        url = "" if args.storage.strip().lower() in ("", "project") else args.storage
        project.update(storage=normalize_storage_url(url))
        if mask_url(url) != url:
            print("note: the storage password is saved in project.toml; keep it in ~/.pgpass "
                  "or PGPASSWORD instead to leave it out of the project.", file=sys.stderr)
    model_changes = {
        k: v for k, v in (("backbone", args.backbone), ("weights", args.weights),
                          ("finetune_stages", args.finetune_stages)) if v is not None
    }
    model = dataclasses.replace(project.settings.model, **model_changes)
    changes = {
        "trials": args.trials, "epochs": args.epochs, "mode": args.mode, "views": args.views,
        "objective": args.objective, "pruning": args.pruning, "seed": args.seed,
        "startup_trials": args.startup_trials, "study_name": args.study, "device": args.device,
        "multivariate": args.multivariate, "augment_probability": args.augment_probability,
        "precision": args.precision,
        "features": args.engine, "feature_precision": args.feature_precision,
    }
    settings = dataclasses.replace(
        SearchSettings.from_project(project), **{k: v for k, v in changes.items() if v is not None}
    )
    print(RESEARCH_NOTICE, file=sys.stderr)

    cancel = threading.Event()
    printer = SearchPrinter(settings.epochs, quiet=args.quiet)

    interrupt = StopOnInterrupt(cancel, "Stopping at the next batch; finished trials are kept "
                                "(press Ctrl+C again to quit at once).", printer.say).install()
    try:  # a study that refuses the model settings leaves the project's as they were
        result = search_with_model(project, settings, model, printer, cancel)
    finally:
        interrupt.restore()

    print(format_table(result, args.top))
    print(result.settings.augmentation_words())
    if result.n_complete >= 2:
        study = load_study(project, settings.study_name)
        try:
            print()
            print(format_estimate(estimate_importances(
                study, progress=None if args.quiet else _importance_progress)))
        except AllguiError as exc:
            print(f"(importances: {exc.message})")
    from allgui.core.search.storage import mask_url

    print(f"\nStudy '{result.study_name}' in {mask_url(result.storage_url)}")
    print(f"  (open it with optuna-dashboard {mask_url(result.storage_url)})")
    if result.stopped:
        print("Stopped: run the same command again to continue.")
    return 0


def _importance_progress(done: int, total: int, message: str) -> None:
    print(f"importances: {done} of {total} ({message})", file=sys.stderr, flush=True)


def _fmt(name: str, v) -> str:
    from allgui.core.model.params import format_value

    return format_value(name, v)


def _columns() -> tuple[tuple[str, str], ...]:
    """(name, label) of the table's parameter columns: the registry's searched ones."""
    from allgui.core.model.params import PARAMS

    return tuple((p.name, p.label) for p in PARAMS if p.choices or p.low is not None)


def format_table(result, top: int = 5) -> str:
    """The best trials, like the paper's Table 2, plus the study's counts."""
    rows = result.top(top)
    from allgui.core.model.params import label

    columns = _columns()
    extra = sorted({k for t in rows for k in t.params} - {c for c, _ in columns})
    cols = list(columns) + [(k, label(k)) for k in extra]
    header = ["trial"] + [label for _, label in cols] + [
        result.objective, "val acc", "best ep", "epochs", "time"]
    body = []
    for t in rows:
        body.append([f"#{t.number}"] + [_fmt(k, t.params.get(k)) for k, _ in cols] + [
            f"{t.value:.4f}", _fmt("", t.val_accuracy), str(t.best_epoch), str(t.epochs_run),
            f"{t.duration_s:.1f}s"])
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    line = lambda r: "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    out = [f"Best trials of study '{result.study_name}' ({short(result.objective)} on validation):"]
    out.append(line(header))
    out.append("  ".join("-" * w for w in widths))
    out.extend(line(r) for r in body)
    if not body:
        out.append("  (no finished trials yet)")
    out.append(
        f"{result.counts()}; this run {result.duration_s:.1f}s (features {result.features_s:.1f}s)"
        + (f"; pruning saved {result.epochs_saved_by_pruning} epochs"
           if result.settings.pruning != "none" else "")
    )
    failed = [t for t in result.trials if t.state == "failed" and t.reason]
    for t in failed[-5:]:
        out.append(f"  trial #{t.number} failed: {t.reason}")
    return "\n".join(out)


class SearchPrinter(ProgressPrinter):
    """The search on the terminal (stderr): a bar for the feature cache, then a
    line per trial and a bar for its epochs, with rate and time left."""

    def __init__(self, epochs: int, stream: TextIO | None = None, quiet: bool = False) -> None:
        super().__init__(stream, quiet, every_s=10.0, unit=" images")
        self.epochs = epochs
        self.total_trials: int | None = None
        self.started = 0
        self._best = (0, float("inf"))  # (epoch, validation loss) of the running trial
        self._study_end = None  # StudyFinished, said when the job says how it ended

    def _ended(self, text: str) -> None:
        self.end_bar()
        self.say(text)

    def __call__(self, event) -> None:
        from allgui.core import events as ev

        if isinstance(event, ev.JobStarted):
            self.total_trials = event.total
            self.say(event.description)
        elif isinstance(event, ev.TrialStarted):
            self.started += 1
            of = f"/{self.total_trials}" if self.total_trials else ""
            params = "  ".join(f"{k}={_fmt(k, v)}" for k, v in event.params.items())
            self._ended(f"trial #{event.number} ({self.started}{of}): {params}")
        elif isinstance(event, ev.EpochEnded):
            if event.epoch == 1 or event.val_loss < self._best[1]:
                self._best = (event.epoch, event.val_loss)
            self.progress("epochs", event.epoch, event.epochs, unit=" epochs",
                          detail=f"loss {event.train_loss:.3f}/{event.val_loss:.3f}  "
                                 f"val acc {event.val_accuracy:.3f}  "
                                 f"objective {event.objective:.4f}")
        elif isinstance(event, ev.TrialFinished):
            self._ended(f"  done: {event.value:.4f} (epoch {self._best[0]}, the lowest "
                        f"validation loss) after {event.epochs_run} epochs, "
                        f"{event.duration_s:.1f}s")
        elif isinstance(event, ev.TrialPruned):
            self._ended(f"  pruned at epoch {event.epoch} ({event.reason})")
        elif isinstance(event, ev.TrialFailed):
            self._ended(f"  failed: {event.reason}")
        elif isinstance(event, ev.StudyFinished):
            self._study_end = event  # said with the job's end, which tells how it ended
        elif isinstance(event, ev.JobFinished) and self._study_end is not None:
            end, self._study_end = self._study_end, None
            word = ("stopped" if end.stopped else "finished" if event.ok
                    else "ended on an error")
            best = (f"; best trial #{end.best_number} = {end.best_value:.4f}"
                    if end.best_number is not None else "")
            stopped = (f", {end.n_stopped} stopped (run again on resume)"
                       if end.n_stopped else "")
            self._ended(f"Search {word}: {end.n_complete} complete, {end.n_pruned} pruned, "
                        f"{end.n_failed - end.n_stopped} failed{stopped}{best}.")
        else:
            super().__call__(event)
