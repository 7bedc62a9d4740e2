"""``allgui export``: a validated model of a project as one ONNX file."""

from __future__ import annotations

import argparse
import math
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a validated model to one ONNX file for 'allgui classify'",
        description="Export the best run of the project's latest validation (or a chosen run, "
        "or any checkpoint) to an ONNX file that carries its classes, preprocessing, "
        "metrics and the research-use notice. The file is checked against the trained "
        "model before it is written.",
    )
    parser.add_argument("project", help="the project folder")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--run", type=int, metavar="N",
                       help="run N of the validation batch (default: its best run by weighted F1)")
    which.add_argument("--checkpoint", metavar="PATH", help="export this checkpoint file instead")
    parser.add_argument("--batch", metavar="ID",
                        help="the validation batch (a folder under runs/; default: the latest)")
    parser.add_argument("--out", metavar="PATH",
                        help="where to write the model (default: the project's models/ folder)")
    parser.add_argument("--threshold", type=float, default=0.5, metavar="P",
                        help="call an image positive when the positive class's probability is "
                        "at least P (default %(default)s)")
    parser.add_argument("--margin", type=float, default=0.2, metavar="M",
                        help="flag results whose top two probabilities are closer than M "
                        "(default %(default)s)")
    parser.add_argument("--force", action="store_true", help="replace an existing model file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from allgui.cli.progress_printer import ProgressPrinter
    from allgui.core.errors import AllguiError
    from allgui.core.export import export_onnx
    from allgui.core.project import Project

    project = Project.open(args.project)
    checkpoint, metadata, samples, name = choose(project, args)
    out = Path(args.out) if args.out else project.models_dir / f"{name}.onnx"
    if out.exists() and not args.force:
        raise AllguiError(f"{out} already exists; choose another --out, or add --force to replace it.")
    print(f"Exporting {checkpoint} ...")
    result = export_onnx(checkpoint, out, metadata, samples, sink=ProgressPrinter())
    print(f"Exported {result.path} ({result.size_bytes / 1e6:.1f} MB, {result.seconds:.1f} s)")
    print(f"  checked on {result.images_checked} images against the trained model: largest "
          f"differences: probabilities {result.max_diff_probabilities:.1e}, logits "
          f"{result.max_diff_logits:.1e}, heatmap {result.max_diff_cam:.1e}")
    print(f"  allowed: {result.tolerance.describe()}")
    print(f"  exporter: {result.exporter}, opset {result.opset}")
    for line in result.info.summary_lines():
        print(line)
    return 0


def choose(project, args):
    """(checkpoint, ExportMetadata, sample images, file name) for the chosen run."""
    from allgui.core.errors import ProjectError
    from allgui.core.export import ExportMetadata
    from allgui.core.validation.batch import TUNED, latest_batch, load_batch

    base = dict(decision_threshold=args.threshold, uncertain_margin=args.margin)
    if args.checkpoint:
        ckpt = Path(args.checkpoint)
        if not ckpt.is_file():
            raise ProjectError(f"The checkpoint {ckpt} does not exist.")
        batch_dir = ckpt.resolve().parent.parent
        if (batch_dir / "batch.json").is_file():  # a run of a validation batch: use its record
            batch = load_batch(batch_dir)
            for run in batch.runs:
                if run.checkpoint.resolve() == ckpt.resolve():
                    return ckpt, _metadata(batch, run, base), _samples(batch, run), \
                        f"{batch.batch_id}-{run.name}"
        return ckpt, ExportMetadata(source=str(ckpt), **base), None, ckpt.parent.name or ckpt.stem

    batch = load_batch(project.runs_dir / args.batch) if args.batch else latest_batch(project)
    if batch is None:
        raise ProjectError(
            "This project has no finished validation run to export yet. "
            "Run a validation first, or give a checkpoint with --checkpoint."
        )
    if args.run is not None:
        runs = {r.index: r for r in batch.runs_of(TUNED) if r.checkpoint.is_file()}
        if args.run not in runs:
            have = ", ".join(str(i) for i in sorted(runs)) or "none"
            raise ProjectError(
                f"Validation {batch.batch_id} has no finished run {args.run} "
                f"(finished runs: {have})."
            )
        run = runs[args.run]
    else:
        run = batch.best_run()
        if run is None:
            raise ProjectError(f"Validation {batch.batch_id} has no finished run with a checkpoint.")
    return run.checkpoint, _metadata(batch, run, base), _samples(batch, run), \
        f"{batch.batch_id}-{run.name}"


def _metadata(batch, run, base):
    from allgui.core.export import ExportMetadata

    metrics = {}
    if run.metrics is not None:
        metrics = {
            k: float(v) for k, v in run.metrics.headline().items()
            if isinstance(v, (int, float)) and math.isfinite(v)
        }
    return ExportMetadata(
        classes=tuple(batch.classes),
        positive_class=batch.positive_class,
        metrics=metrics,
        test_set=batch.test_set,
        study=str(batch.study.get("name", "")),
        trial=batch.tuned.trial,
        run=run.index,
        source=str(run.checkpoint),
        **base,
    )


def _samples(batch, run, count: int = 4):
    """A few of the run's own test images for the torch-vs-ONNX check."""
    from allgui.core.errors import ProjectError
    from allgui.core.validation.batch import read_predictions

    if not run.predictions_path.is_file():
        return None
    try:
        paths = read_predictions(run.predictions_path, batch.classes).paths
    except ProjectError:
        return None
    found = [p for p in paths if Path(p).is_file()]
    return found[:count] or None
