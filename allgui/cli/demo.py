"""``allgui demo``: the whole path on synthetic data, without a window.

Makes the demo project (the same one the window's "Try with demo data"
makes), then runs a short search, a validation batch, the export and the
classification of a few test images, each step through the very command a
user would type, which is printed before it runs.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="walk the whole path on synthetic demo data: search, validate, export, classify"
    )
    parser.add_argument("folder", help="an empty or new folder for the demo project")
    parser.add_argument("--trials", type=int, default=8, help="search trials (%(default)s)")
    parser.add_argument("--runs", type=int, default=2, help="validation runs (%(default)s)")
    parser.add_argument("--epochs", type=int, default=20,
                        help="most epochs per validation run (%(default)s)")
    parser.set_defaults(func=run)


def _step(number: int, total: int, title: str, argv: list[str] | None = None) -> None:
    print(f"\n=== Step {number}/{total}: {title} ===", flush=True)
    if argv:
        print("$ allgui " + " ".join(shlex.quote(a) for a in argv), flush=True)


def run(args) -> int:
    from allgui import RESEARCH_NOTICE
    from allgui.cli import main as allgui_main
    from allgui.cli.progress_printer import ProgressPrinter
    from allgui.core.dataset.discover import discover
    from allgui.core.demo_project import make_demo_project
    from allgui.core.project import Project

    print(RESEARCH_NOTICE)
    print("The demo's data are SYNTHETIC drawings of cells; its figures say nothing about leukemia.")
    started = time.perf_counter()
    root = Path(args.folder).expanduser().resolve()
    total = 5
    _step(1, total, "make the synthetic demo data and a project for it")
    make_demo_project(root, ProgressPrinter())
    project = Project.open(root)
    print(f"Project: {project.root}\nData:    {project.settings.dataset.path}")

    steps = [
        ("search the head's hyperparameters (Optuna TPE)",
         ["optimize", str(root), "--trials", str(args.trials)]),
        ("train the best configuration again and test it on held-out patients",
         ["validate", str(root), "--runs", str(args.runs), "--epochs", str(args.epochs)]),
        ("export the run chosen on validation (not on the test set) to ONNX",
         ["export", str(root)]),
    ]
    for number, (title, argv) in enumerate(steps, start=2):
        _step(number, total, title, argv)
        code = allgui_main(argv)
        if code != 0:
            print(f"\nThe demo stopped at step {number} (exit code {code}); "
                  f"the project keeps what was done: {root}")
            return code

    models = sorted(project.models_dir.glob("*.onnx"), key=lambda p: p.stat().st_mtime)
    index = discover(project.settings.dataset.path)
    images = [r.path for label in index.classes
              for r in [r for r in index.records if r.subset == "test" and r.label == label][:2]]
    argv = ["classify", str(models[-1]), *map(str, images),
            "--csv", str(root / "demo-classified.csv"), "--heatmaps", str(root / "heatmaps")]
    _step(total, total, "classify test images of each class with the exported model (no torch)", argv)
    code = allgui_main(argv)
    print(f"\nDemo finished in {time.perf_counter() - started:.0f} s. Everything is in {root}")
    return code
