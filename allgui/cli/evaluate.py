"""``allgui evaluate``: an exported model on labelled images from another
source, without training (external, multi-centre validation).

Needs only onnxruntime for the model (no torch). Prints each figure with its
95% interval and writes evaluation.html, evaluation.json and predictions.csv.
"""

from __future__ import annotations

import contextlib
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score an exported model on labelled images from another source (no training)",
        description="External validation: classify every labelled image under FOLDER (class "
        "folders, or a manifest CSV with path,label[,patient]) with MODEL and report every "
        "figure with a 95% bootstrap interval (by patient when patients are known), per "
        "class, per patient, and the calibration of its probabilities. Research use only.",
    )
    parser.add_argument("model", help="the model file (.onnx) made by 'allgui export'")
    parser.add_argument("data", metavar="LABELLED_FOLDER",
                        help="class folders, or a manifest CSV (path,label[,patient])")
    parser.add_argument("--out", default=None, help="folder for the report (default: a new "
                        "folder evaluation-<model name> beside the model)")
    parser.add_argument("--force", action="store_true",
                        help="replace an earlier report in the --out folder")
    parser.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto")
    parser.add_argument("--resamples", type=int, default=1000,
                        help="bootstrap resamples for the intervals (default 1000)")
    parser.add_argument("--include-seen", action="store_true",
                        help="keep images the model was trained or validated on (same content) "
                        "in the figures; by default they are counted and left out")
    parser.set_defaults(func=run)


def run(args) -> int:
    from allgui.cli.progress_printer import ProgressPrinter
    from allgui.core.files.fresh import fresh_folder
    from allgui.core.files.text import terminal_text
    from allgui.core.report.document import table, table_text
    from allgui.core.report.external import (
        NAMES,
        check_report_folder,
        default_report_folder,
        write_external_report,
    )
    from allgui.core.validation.external import FIGURES, evaluate_model
    from allgui.core.validation.external_checks import check_lines, side_by_side
    from allgui.core.validation.stats import format_interval, format_value

    # checked before any work: an earlier report (or anyone's files of the same names) is
    # replaced only with --force; without --out, a new folder of its own beside the model
    if args.out:
        out = check_report_folder(Path(args.out), args.model, args.data, replace=args.force)
        made = False
    else:
        default = default_report_folder(args.model, args.data)
        out = fresh_folder(default.parent, default.name, "the evaluation")
        made = True
        check_report_folder(out, args.model, args.data)
    try:
        result = evaluate_model(args.model, args.data, device=args.device,
                                resamples=max(args.resamples, 50), sink=ProgressPrinter(),
                                include_seen=args.include_seen)
    except BaseException:
        if made:  # nothing written: the new folder goes again
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
    files = write_external_report(result, out)
    head = result.metrics.headline()
    print(f"{len(result.paths)} images, classes {', '.join(result.classes)}"
          + (f"; {len(result.skipped)} unreadable, left out" if result.skipped else ""))
    for k in FIGURES:
        if head.get(k) is not None:
            print(f"  {NAMES[k]:<32} {format_value(head[k])}  95% "
                  f"{format_interval(*result.intervals.get(k, (None, None)))}")
    if result.calibration is not None:
        print(f"  ECE {result.calibration.ece:.4f} (temperature {result.temperature:.3f})")
    print(f"  intervals: bootstrap over {result.interval_unit}s")
    print(f"  decision: {terminal_text(result.rule.describe(result.classes))} (stored in the model)")
    header, rows = side_by_side(FIGURES, head, result.intervals, result.checks, NAMES)
    text = table_text(table("Beside the model's own test set" + (
        f" ({result.checks.internal_set})" if result.checks.internal_set else "")
        + " and what no skill scores", header, rows))
    for line in text.splitlines():
        print(terminal_text(line))
    for line in check_lines(result.checks, len(result.paths)):
        print(terminal_text(line))
    for path in files.values():
        print(terminal_text(str(path)))
    return 0
