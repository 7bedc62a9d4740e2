"""``allgui leak``: the same protocol on the same data with the image split
and with the patient split, and how much the image split inflates validation;
the comparison goes into PROJECT/leak/leak.json and the project's report."""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "leak",
        help="measure how much an image-level split inflates validation (needs patient IDs)",
        description="Run the project's search and validation twice on the same data, once "
        "with the image split (cells of one patient on both sides) and once with the patient "
        "split, with the same settings and seeds, each in its own project under "
        "PROJECT/leak/, and print how much higher the image split's validation figure is and "
        "what the test set says. Run it again to continue where it stopped. Defaults are the "
        "project's search settings and 3 runs x 40 epochs; pass small values to try it.",
    )
    parser.add_argument("project", help="the project folder")
    parser.add_argument("--trials", type=int, help="trials per search (the project's)")
    parser.add_argument("--epochs", type=int, help="epochs per trial (the project's)")
    parser.add_argument("--views", type=int, help="augmented views, cached mode (the project's)")
    parser.add_argument("--startup-trials", type=int, help="random trials before TPE")
    parser.add_argument("--runs", type=int, default=3, help="validation runs per split (3)")
    parser.add_argument("--run-epochs", type=int, default=40,
                        help="most epochs per validation run (40)")
    parser.add_argument("--device", default=None, help="'cpu' or 'cuda' (default: the GPU if any)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(func=run)


def run(args) -> int:
    import threading

    from allgui import RESEARCH_NOTICE
    from allgui.cli._interrupt import StopOnInterrupt
    from allgui.cli.progress_printer import ProgressPrinter
    from allgui.core.project import Project
    from allgui.core.report.document import table_text
    from allgui.core.report.leak import leak_table
    from allgui.core.validation.leak import LeakSettings, check_patients, measure_leak

    project = Project.open(args.project)
    settings = LeakSettings(trials=args.trials, epochs=args.epochs, views=args.views,
                            startup_trials=args.startup_trials, runs=args.runs,
                            run_epochs=args.run_epochs, device=args.device)
    printer = ProgressPrinter(quiet=args.quiet)
    check_patients(project, printer)  # refused before anything is made
    print(RESEARCH_NOTICE, file=sys.stderr)
    cancel = threading.Event()
    interrupt = StopOnInterrupt(cancel, "Stopping at the next batch; finished work is kept "
                                "(press Ctrl+C again to quit at once).",
                                lambda text: print(text, file=sys.stderr)).install()
    try:
        result = measure_leak(project, settings, printer, cancel)
    finally:
        interrupt.restore()
    print(table_text(leak_table(result)))
    print()
    print(result.summary())
    return 0
