"""``allgui export``: a validated model of a project as one ONNX file."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a validated model to one ONNX file for 'allgui classify'",
        description="Export the run of the project's latest validation with the lowest "
        "validation loss at its kept epoch (the test set plays no part; or a chosen run, "
        "or any checkpoint) to an ONNX file that carries its classes, preprocessing, "
        "metrics and the research-use notice. The file is checked against the trained "
        "model before it is written.",
    )
    parser.add_argument("project", help="the project folder")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--run", type=int, metavar="N",
                       help="run N of the validation batch (default: the run with the lowest "
                       "validation loss at its kept epoch; the test set plays no part)")
    which.add_argument("--checkpoint", metavar="PATH", help="export this checkpoint file instead")
    parser.add_argument("--batch", metavar="ID",
                        help="the validation batch (a folder under runs/; default: the latest)")
    parser.add_argument("--out", metavar="PATH",
                        help="where to write the model (default: the project's models/ folder)")
    parser.add_argument("--threshold", type=float, default=0.5, metavar="P",
                        help="call an image positive when the positive class's probability is "
                        "at least P (default %(default)s)")
    parser.add_argument("--margin", type=float, default=None, metavar="M",
                        help="flag results whose top two probabilities are closer than M "
                        "(default: the margin the validation chose for 99%% accuracy on the "
                        "rest, else 0.2)")
    parser.add_argument("--force", action="store_true", help="replace an existing model file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from allgui.cli.progress_printer import ProgressPrinter
    from allgui.core.export.from_run import export_plan, plan_inputs
    from allgui.core.files.outputs import check_output
    from allgui.core.files.text import terminal_text
    from allgui.core.infer.limits import check_margin, check_threshold
    from allgui.core.project import Project

    check_threshold(args.threshold, "--threshold")  # checked before anything is stored
    if args.margin is not None:
        check_margin(args.margin, "--margin")
    project = Project.open(args.project)
    plan = choose(project, args)
    out = Path(args.out) if args.out else project.models_dir / f"{plan.name}.onnx"
    check_output(out, inputs=plan_inputs(plan), force=args.force, what="the model")  # before work
    if plan.metadata.selection:
        print(f"Exporting {plan.metadata.selection}.")
    print(f"Exporting {plan.checkpoint} ...")
    result = export_plan(plan, out, force=args.force, sink=ProgressPrinter())
    print(f"Exported {result.path} ({result.size_bytes / 1e6:.1f} MB, {result.seconds:.1f} s)")
    print(f"  checked on {result.images_checked} images against the trained model: largest "
          f"differences: probabilities {result.max_diff_probabilities:.1e}, logits "
          f"{result.max_diff_logits:.1e}, heatmap {result.max_diff_cam:.1e}")
    print(f"  allowed: {result.tolerance.describe()}")
    print(f"  exporter: {result.exporter}, opset {result.opset}")
    for line in result.info.summary_lines():
        print(terminal_text(line))  # the card's words come from files
    return 0


def choose(project, args):
    """The :class:`~allgui.core.export.from_run.ExportPlan` the arguments ask for."""
    from allgui.core.errors import ProjectError
    from allgui.core.export.from_run import plan_checkpoint_export, plan_run_export
    from allgui.core.validation.batch import load_batch, newest, read_batches

    base = dict(decision_threshold=args.threshold, uncertain_margin=args.margin)
    if args.checkpoint:
        return plan_checkpoint_export(args.checkpoint, **base)
    batches, unusable = ([], []) if args.batch else read_batches(project)  # one walk
    batch = load_batch(project.runs_dir / args.batch) if args.batch else newest(batches)
    if batch is None:
        raise ProjectError(
            "This project has no finished validation run to export yet. "
            "Run a validation first, or give a checkpoint with --checkpoint."
            + (f" ({len(unusable)} validation record(s) left out: {unusable[0]})"
               if unusable else "")
        )
    return plan_run_export(batch, args.run, **base)
