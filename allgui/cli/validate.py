"""``allgui validate``: train the chosen configuration several times on
different seeds and measure it on the test set, then print the figures."""

from __future__ import annotations

from allgui.cli.progress_printer import ProgressPrinter


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="train the best (or a chosen) configuration N times and measure it on the test set",
        description="Train the study's best configuration (or --trial N, or --params) "
        "--runs times with different seeds, each up to --epochs epochs with early stopping, "
        "and measure every run on the test set (the official test set when the dataset has "
        "one, otherwise the patient-held-out test part). Checkpoints, predictions and "
        "figures are kept under PROJECT/runs/.",
    )
    parser.add_argument("project", help="the project folder")
    parser.add_argument("--runs", type=int, default=None,
                        help="independent runs (default: the project's, 3 in both protocols)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="most epochs per run (default: the project's, 40)")
    parser.add_argument("--patience", type=int, default=None,
                        help="stop a run after this many epochs without a better validation "
                        "loss (default: the project's, 10)")
    parser.add_argument("--views", default=None,
                        help="augmented views per image in cached mode: a number, 'fresh' (a "
                        "new draw every epoch: as many views as epochs) or 'search' (the "
                        "search's number); default: the project's ('fresh' in the paper "
                        "protocol, 'search' in the recommended one)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the first run; run k uses seed + k - 1 (default 0)")
    parser.add_argument("--trial", type=int, default=None,
                        help="validate this trial of the study instead of the best one")
    from allgui.core.model.params import NAMES, untuned_example

    parser.add_argument("--params", default=None,
                        help=f"validate a configuration you enter, e.g. '{untuned_example()}' "
                        "(these are allgui's untuned defaults, which unset values take; "
                        f"settings: {', '.join(NAMES)})")
    parser.add_argument("--baseline", default=None,
                        help="the baseline trained on the same seeds, for a paired comparison: "
                        "'default' (allgui's untuned defaults), 'trial:N', name=value pairs "
                        "as --params, or 'none'; default: the project's ('default' in the "
                        "recommended protocol, 'none' in the paper protocol)")
    parser.add_argument("--no-probe", dest="probe", action="store_false", default=None,
                        help="leave out the linear probe (logistic regression on the same "
                        "cached features, C chosen by cross-validation on training + "
                        "validation)")
    parser.add_argument("--probe", dest="probe", action="store_true",
                        help="run the linear probe (the recommended protocol's default)")
    parser.add_argument("--probe-features", choices=("view", "views", "plain"), default=None,
                        help="what the linear probe trains on: 'view' (the runs' first "
                        "training view: no backbone pass of its own; the default), 'views' "
                        "(every view the runs read) or 'plain' (plain training images: one "
                        "backbone pass per training image, for the probe alone)")
    sharing = parser.add_mutually_exclusive_group()
    sharing.add_argument("--share-views", action="store_true",
                         help="runs reuse the search's augmentation draws: no new backbone pass "
                         "per run (the default; the report says which was used)")
    sharing.add_argument("--independent-views", action="store_true",
                         help="each run draws its own augmentation from its seed (a new backbone "
                         "pass per run; the cost is printed when the batch starts)")
    parser.add_argument("--engine", choices=("auto", "onnxruntime", "openvino", "torch"),
                        default="auto", help="what computes cached features on a CPU (default "
                        "auto: OpenVINO where installed, else onnxruntime)")
    parser.add_argument("--feature-precision", choices=("fp32", "bf16", "int8"), default="",
                        help="of the CPU features (default: the search's); checked against fp32 "
                        "on the project's images before use")
    parser.add_argument("--referral-target", type=float, default=0.99,
                        help="accuracy wanted on the cells not flagged uncertain; the margin is "
                        "chosen on validation for it (default 0.99)")
    parser.add_argument("--mode", choices=("cached", "online"), default="",
                        help="training mode for a frozen backbone (default: the project's)")
    parser.add_argument("--device", default=None, help="'cpu' or 'cuda' (default: the GPU if any)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(func=run)


def _baseline(project, text: str | None):
    from allgui.core.validation.run import (
        DEFAULT_BASELINE,
        ValidationSettings,
        choose_configuration,
        parse_params,
    )

    if not text or text == "none":
        return None, ""
    if text == "default":
        return dict(DEFAULT_BASELINE), "allgui's untuned defaults"
    if text.startswith("trial:"):
        from allgui.core.errors import AllguiError

        try:
            number = int(text.split(":", 1)[1])
        except ValueError as exc:
            raise AllguiError(f"'{text}' is not trial:N (for example trial:3).") from exc
        conf, _ = choose_configuration(project, ValidationSettings(trial=number))
        return conf.params, conf.source
    return parse_params(text), "entered by the user"


class _RunPrinter(ProgressPrinter):
    """The shared printer's bars, plus a line per epoch and per run."""

    def __call__(self, event) -> None:
        from allgui.core.events import EpochEnded, RunFinished

        if isinstance(event, EpochEnded) and event.run is not None:
            if not self.quiet:
                self.say(f"  run {event.run} epoch {event.epoch}/{event.epochs}: train loss "
                         f"{event.train_loss:.4f}, validation loss {event.val_loss:.4f}, "
                         f"validation accuracy {event.val_accuracy:.4f}")
        elif isinstance(event, RunFinished):
            from allgui.core.model.measures import run_line

            self.end_bar()
            self.say(f"{event.label} run {event.run} (seed {event.seed}) finished: "
                     f"{run_line(event.metrics)} on the test set")
        else:
            super().__call__(event)


def print_batch(batch, sink=None) -> None:
    from allgui.core.files.text import terminal_text
    from allgui.core.report.document import table, table_text
    from allgui.core.validation.analysis import (
        analyse,
        comparison_note,
        comparison_rows,
        metrics_note,
        metrics_rows,
    )
    from allgui.core.validation.run_record import BASELINE, TUNED
    from allgui.core.validation.stats import format_interval

    analysis = analyse(batch, sink=sink)  # the bootstrap takes a while: its bar shows
    print(f"\nValidation batch {batch.batch_id} ({batch.state}): {batch.tuned.source}")
    print(f"Test set: {batch.test_set}\n")
    header, rows = metrics_rows(analysis, TUNED)
    print(table_text(table(f"Tuned configuration, test set: {batch.test_set}", header, rows,
                           metrics_note(analysis, TUNED))))
    if batch.baseline and batch.runs_of(BASELINE):
        header, rows = metrics_rows(analysis, BASELINE)
        print()
        print(table_text(table(f"Baseline ({batch.baseline.source}), test set: "
                               f"{batch.test_set}", header, rows)))
        header, rows = comparison_rows(analysis)
        if rows:
            print()
            print(table_text(table("Tuned - baseline on the same test images (paired "
                                   "bootstrap)", header, rows, comparison_note(analysis))))
    from allgui.core.report.document import Table
    from allgui.core.report.evidence import baselines_section

    for block in baselines_section(analysis):
        if isinstance(block, Table):
            print()
            print(table_text(block))
    from allgui.core.report.evidence import calibration_lines

    for line in calibration_lines(batch):
        print(terminal_text(line))
    print(batch.model.views_note())
    if analysis.auc_intervals:
        print()
        for r in analysis.auc_intervals:
            iv = r.interval
            which = f", '{r.of_class}' against the rest" if r.of_class else ""
            print(terminal_text(
                f"{r.run} (seed {r.seed}){which}: AUC {iv.estimate:.4f}, {iv.confidence:.0%} "
                f"interval over test images {format_interval(iv.low, iv.high)} ({iv.method}"
                f"{'; ' + iv.note if iv.note else ''})"))
    chosen = batch.chosen_run()
    if chosen is not None:
        print(f"\nRun for export: {batch.selection_note(chosen)}.\n  {chosen.checkpoint}")
    print(batch.message)


def run(args) -> int:
    import threading

    from allgui import RESEARCH_NOTICE
    from allgui.cli._interrupt import StopOnInterrupt
    from allgui.core.project import Project
    from allgui.core.validation.defaults import ValidationDefaults, parse_views, views_setting
    from allgui.core.validation.run import parse_params, run_batch

    project = Project.open(args.project)
    given = {k: v for k, v in (("runs", args.runs), ("epochs", args.epochs),
                               ("patience", args.patience), ("probe", args.probe),
                               ("probe_features", args.probe_features))
             if v is not None}
    if args.views is not None:
        given.update(views_setting(parse_views(args.views)))
    if args.independent_views or args.share_views:  # else the protocol's (shared by default)
        given["independent_views"] = bool(args.independent_views)
    if args.baseline is not None:
        baseline, source = _baseline(project, args.baseline)
        given.update(baseline=baseline, baseline_source=source or "entered by the user")
    # The project's [validation] settings (its protocol's), overridden by the options given.
    settings = ValidationDefaults.from_project(project).settings(
        first_seed=args.seed, trial=args.trial,
        params=parse_params(args.params) if args.params else None, mode=args.mode,
        device=args.device,
        referral_target=args.referral_target, features=args.engine,
        feature_precision=args.feature_precision, **given)
    cancel = threading.Event()
    printer = _RunPrinter(quiet=args.quiet)
    # Ctrl+C once: stop at the next batch, keep the finished runs; the same command continues.
    with StopOnInterrupt(cancel, "Stopping at the next batch; finished runs are kept and the "
                         "same command continues (press Ctrl+C again to quit at once)."):
        batch = run_batch(project, settings, sink=printer, cancel=cancel, resume=True)
    print_batch(batch, printer)
    if batch.status == "stopped":
        print("Stopped: run the same command again to continue this batch.")
    print(f"\n{RESEARCH_NOTICE}")
    return 0 if batch.status == "finished" else 1
