"""The default pipeline on the shared real set, beside the baselines a reviewer tries.

    python benchmarks/real_data.py                       # as a user would run it
    python benchmarks/real_data.py --size 128 --trials 6 --shared-views   # a busy CPU

Data: ``../shared/fixtures/realdata/aria_all`` (800 peripheral-blood smear
images, four folders), two tasks: ``binary`` (Benign vs the three ALL
folders) and ``four`` (the folders as they are). Model: frozen
``tf_efficientnet_lite0`` with the local ImageNet weights file. For each
task: the search (TPE), then a validation batch with the untuned head on the
same seeds and the linear probe (both by default), then one table: tuned,
untuned head and probe side by side (balanced accuracy, weighted F1, AUC,
ECE before/after temperature scaling), means over the seeds, and the
paired differences against the probe. Every figure is on the held-out test
part, which no trial saw. Projects go under ``--work`` (kept: open their
reports or study.db afterwards).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "fixtures"
DATA = FIXTURES / "realdata" / "aria_all"
WEIGHTS = FIXTURES / "weights" / "tf_efficientnet_lite0.safetensors"
TASKS = ("binary", "four")


def manifest(task: str, folder: Path, out: Path) -> Path:
    """A manifest CSV naming each image's class for ``task``."""
    lines = ["path,label"]
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        label = sub.name.lower() if task == "four" else ("benign" if sub.name == "Benign"
                                                         else "all")
        lines += [f"{p},{label}" for p in sorted(sub.iterdir()) if p.is_file()]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def run_task(task: str, args, work: Path) -> dict:
    from allgui.core.model.params import untuned_defaults
    from allgui.core.project import DatasetSettings, ModelSettings, Project, ProjectSettings
    from allgui.core.report.build import write_report
    from allgui.core.search.runner import SearchSettings, run_search
    from allgui.core.validation.analysis import analyse
    from allgui.core.validation.run import ValidationSettings, run_batch

    folder = work / task
    folder.mkdir(parents=True, exist_ok=True)
    data = manifest(task, Path(args.data), folder / "manifest.csv")
    root = folder / "project"
    if (root / "project.toml").exists():
        project = Project.open(root)
    else:
        project = Project.create(root, ProjectSettings(
            dataset=DatasetSettings(str(data), args.size),
            model=ModelSettings("tf_efficientnet_lite0", str(args.weights))))
    started = time.perf_counter()
    run_search(project, SearchSettings(trials=args.trials, epochs=args.epochs, views=args.views,
                                       device=args.device))
    searched = time.perf_counter() - started
    batch = run_batch(project, ValidationSettings(
        runs=args.runs, epochs=args.val_epochs, baseline=untuned_defaults(),
        baseline_source="allgui's untuned head", device=args.device,
        independent_views=not args.shared_views))
    analysis = analyse(batch, resamples=200)
    try:
        write_report(project)
    except Exception as exc:  # the figures matter here; say why the report is missing
        print(f"  (report not written: {exc})")
    return {"analysis": analysis, "search_s": searched,
            "total_s": time.perf_counter() - started, "batch": batch}


def table(task: str, result: dict) -> str:
    from allgui.core.validation.batch import BASELINE, PROBE, TUNED
    from allgui.core.validation.calibration import Calibration

    a, b = result["analysis"], result["batch"]
    labels = (TUNED, BASELINE, PROBE)
    lines = [f"== {task}: {b.test_set}; {len(b.seeds)} seeds; search "
             f"{result['search_s']:.0f} s, all {result['total_s']:.0f} s",
             f"  {'figure':<28}{'tuned':>10}{'untuned':>10}{'probe':>10}{'tuned-probe':>14}"]
    for key in ("balanced_accuracy", "f1_weighted", "auc_roc"):
        row = a.row(key)
        means = [s.mean if s is not None else float("nan") for s in
                 (row.tuned_summary, row.baseline_summary, row.probe_summary)]
        p = row.probe_paired
        diff = (f"{p.mean_difference:+.3f}" if p is not None and p.mean_difference is not None
                else "-")
        lines.append(f"  {key:<28}" + "".join(f"{m:>10.3f}" for m in means) + f"{diff:>14}")
    for when in ("before", "after"):
        cells = []
        for label in labels:
            cals = [Calibration.from_dict(r.calibration) for r in b.runs_of(label) if r.calibration]
            eces = [getattr(c, when).ece for c in cals]
            cells.append(sum(eces) / len(eces) if eces else float("nan"))
        lines.append(f"  {'ECE ' + when + ' calibration':<28}" + "".join(f"{c:>10.3f}" for c in cells))
    lines.append(f"  probe C = {b.probe.params.get('C') if b.probe else '-'}; tuned: "
                 f"{b.tuned.source}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--weights", default=str(WEIGHTS))
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--size", type=int, default=224, help="image side in pixels")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10, help="epochs per trial")
    parser.add_argument("--views", type=int, default=10, help="augmented views (cached mode)")
    parser.add_argument("--runs", type=int, default=3, help="validation runs (seeds)")
    parser.add_argument("--val-epochs", type=int, default=40)
    parser.add_argument("--shared-views", action="store_true",
                        help="validation runs reuse the search's views (no new feature pass)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--work", default="", help="folder for the projects (default: a temp one)")
    args = parser.parse_args(argv)
    if not Path(args.data).is_dir() or not Path(args.weights).is_file():
        print(f"The real data ({args.data}) or weights ({args.weights}) are not here.")
        return 2
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(args.work or tempfile.mkdtemp(prefix="allgui-real-"))
    print(f"size {args.size} px, {args.trials} trials x {args.epochs} epochs, {args.views} views, "
          f"{args.runs} runs x {args.val_epochs} epochs, "
          f"{'shared' if args.shared_views else 'independent'} views; projects in {work}")
    for task in args.tasks.split(","):
        print(table(task, run_task(task, args, work)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
