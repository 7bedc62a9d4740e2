"""``allgui classify``: classify images or a folder with an exported model.

Needs only onnxruntime (no torch): the model file carries its classes, input
size and normalisation. Prints what the model says about itself (including
the research-use notice) and where it runs, then the results.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "classify",
        help="classify cell images, or every image in a folder, with an exported model",
        description="Classify cell images with an exported allgui model (.onnx). "
        "Research use only, not for diagnosis.",
    )
    parser.add_argument("model", help="the model file (.onnx) made by 'allgui export'")
    parser.add_argument("images", nargs="+", metavar="IMAGE_OR_FOLDER",
                        help="image files, or one folder (searched with its subfolders)")
    parser.add_argument("--csv", metavar="OUT", help="write the results to this CSV file "
                        "(and per-patient results to OUT_patients.csv when names carry patients)")
    parser.add_argument("--heatmaps", metavar="DIR",
                        help="save a heatmap PNG per image (image and overlay side by side)")
    parser.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                        help="where to run: the GPU when it works (auto, the default), or the CPU")
    parser.add_argument("--engine", choices=("onnxruntime", "openvino"), default="onnxruntime",
                        help="what runs the model on the CPU: onnxruntime (the default) or "
                        "OpenVINO (pip install allgui[openvino]; used when its probabilities "
                        "agree with onnxruntime's within 1e-4, in fp32)")
    parser.add_argument("--margin", type=float, default=None, metavar="M",
                        help="flag a result as uncertain when its top two probabilities are "
                        "closer than M (default: the value stored in the model)")
    parser.add_argument("--no-subfolders", action="store_true",
                        help="only the folder itself, not its subfolders")
    parser.add_argument("--force", action="store_true",
                        help="replace existing files that allgui did not write (never an image "
                        "being classified, nor the model)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from allgui.cli._interrupt import StopOnInterrupt
    from allgui.cli.progress_printer import ProgressPrinter
    from allgui.core.errors import AllguiError, Cancelled
    from allgui.core.files.text import terminal_text
    from allgui.core.infer import Classifier, classify_files, classify_folder
    from allgui.core.infer.limits import check_margin

    inputs = [Path(p) for p in args.images]
    folders = [p for p in inputs if p.is_dir()]
    if folders and len(inputs) > 1:
        raise AllguiError("Give either one folder or one or more image files, not both.")
    if args.margin is not None:
        check_margin(args.margin, "--margin")

    clf = Classifier(args.model, device=args.device, uncertain_margin=args.margin,
                     engine=args.engine)
    for line in clf.applied_info.summary_lines():  # the margin applied, given or stored
        print(terminal_text(line))
    print(f"  runs on: {', '.join(clf.providers)}" + (f" ({clf.device_note})" if clf.device_note else ""))
    print()

    # First Ctrl+C: stop after the current batch and write the rows finished so
    # far (classify_* saves them, then raises Cancelled); second: quit at once.
    cancel = threading.Event()
    sink = ProgressPrinter()

    kept = " and saving the results so far" if args.csv else ""
    interrupt = StopOnInterrupt(cancel, f"Stopping after the images in hand{kept} "
                                "(press Ctrl+C again to quit at once, without saving).")
    interrupt.install()
    try:
        if folders:
            result = classify_folder(
                clf, folders[0], args.csv, heatmaps_dir=args.heatmaps,
                recursive=not args.no_subfolders, sink=sink, cancel=cancel, force=args.force,
            )
        else:
            for p in inputs:
                if not p.exists():
                    raise AllguiError(f"{terminal_text(p)} does not exist.")
            result = classify_files(
                clf, inputs, args.csv, heatmaps_dir=args.heatmaps, sink=lambda e: None,
                cancel=cancel, force=args.force,
            )
    except Cancelled as exc:
        print(f"allgui: {exc.message}", file=sys.stderr)
        if args.csv:
            print(f"  results so far: {terminal_text(args.csv)}", file=sys.stderr)
        return 130
    finally:
        interrupt.restore()
    print_result(result, clf)
    if not result.classified:
        if len(result.rows) == 1:
            row = result.rows[0]
            raise AllguiError(f"Cannot classify {terminal_text(row.path)}: {row.error}")
        raise AllguiError("No image could be classified.")
    unsaved = [r for r in result.classified if args.heatmaps and not r.heatmap_path]
    if unsaved:  # a full disk or a folder that stopped taking files: say so, exit non-zero
        raise AllguiError(
            f"{len(unsaved)} of {len(result.classified)} heatmaps could not be saved in "
            f"{terminal_text(args.heatmaps)} ({unsaved[0].error or 'no heatmap'}); the results "
            "above are complete.",
        )
    return 0


def print_result(result, clf) -> None:
    from allgui.core.files.text import terminal_text as shown

    positive = clf.info.positive_class or clf.classes[0]
    pos = shown(positive)
    paths = [shown(r.path) for r in result.rows]
    width = min(60, max([len(p) for p in paths] + [4]))
    print(f"{'image':<{width}}  {'class':<8} {'p(' + pos + ')':>8} {'margin':>7}  note")
    for row, path in zip(result.rows, paths, strict=True):
        p = row.prediction
        if p is None:
            print(f"{path:<{width}}  {'-':<8} {'':>8} {'':>7}  skipped: {shown(row.error)}")
            continue
        note = "UNCERTAIN" if p.uncertain else ""
        print(f"{path:<{width}}  {shown(p.label):<8} {p.probabilities[positive]:>8.3f} "
              f"{p.margin:>7.3f}  {note}")
    n_unc = sum(r.prediction.uncertain for r in result.classified)
    counts = ", ".join(
        f"{sum(r.prediction.label == c for r in result.classified)} {shown(c)}"
        for c in clf.classes
    )
    print()
    print(f"{len(result.classified)} classified ({counts}; {n_unc} uncertain), "
          f"{len(result.bad)} skipped")
    if result.ignored:
        n = len(result.ignored)
        print(f"{n} file{'s' if n != 1 else ''} not named like images left out "
              f"(e.g. {shown(result.ignored[0])})")
    if result.patients:
        print()
        print("per patient:")
        for s in result.patients:
            counted = ", ".join(f"{s.counts[c]} {shown(c)}" for c in clf.classes)
            mean = s.mean_probabilities[positive]
            print(f"  {shown(s.patient):<8} {s.images:>4} image{'s' if s.images != 1 else ' '}: "
                  f"{counted}; mean p({pos}) {mean:.3f}; {s.uncertain} uncertain")
    if result.csv_path:
        print(f"\nresults: {shown(result.csv_path)}")
        if result.patients_csv_path:
            print(f"per patient: {shown(result.patients_csv_path)}")
    heat = [r.heatmap_path for r in result.rows if r.heatmap_path]
    if heat:
        where = Path(heat[0]).parent if len(heat) == 1 else _common(heat)
        print(f"heatmaps: {len(heat)} PNG file{'s' if len(heat) != 1 else ''} under "
              f"{shown(where)}")


def _common(paths: list[str]) -> str:
    import os

    return os.path.commonpath(paths)
