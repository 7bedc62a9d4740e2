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

One split's test part is small (120 images: one image is 0.008 of
accuracy), so ``--splits N`` repeats the whole pipeline (search, runs,
baselines) on N splits drawn with split seeds 0..N-1 and ends with each
model's mean over the splits and the tuned-minus-probe difference of every
split. ``--reuse`` takes a project's finished batch of the same protocol
instead of training it again (the study is resumed as usual: a finished
study runs no trial).
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


def _reusable(project, args, best_trial: int | None):
    """The project's newest finished batch of this protocol that validated the
    study's best trial as it stands now, or None."""
    from allgui.core.validation.batch import latest_batch

    batch = latest_batch(project)
    if batch is None:
        return None
    m = batch.model
    same = (batch.state == "finished" and batch.probe is not None
            and batch.baseline is not None and batch.tuned.trial == best_trial
            and len(batch.seeds) == args.runs and batch.max_epochs == args.val_epochs
            and m.image_size == args.size and m.views == args.views
            and m.shared_views == args.shared_views)
    return batch if same else None


def run_task(task: str, args, work: Path, split_seed: int = 0) -> dict:
    from allgui.core.model.params import untuned_defaults
    from allgui.core.project import (
        DatasetSettings,
        ModelSettings,
        Project,
        ProjectSettings,
        SplitSettings,
    )
    from allgui.core.report.build import write_report
    from allgui.core.search.runner import SearchSettings, run_search
    from allgui.core.validation.analysis import analyse
    from allgui.core.validation.run import ValidationSettings, run_batch

    folder = work / task
    folder.mkdir(parents=True, exist_ok=True)
    data = manifest(task, Path(args.data), folder / "manifest.csv")
    # Split seed 0 keeps the folder it always had, so older projects are reused.
    root = folder / "project" if split_seed == 0 else folder / f"split-{split_seed}" / "project"
    if (root / "project.toml").exists():
        project = Project.open(root)
    else:
        project = Project.create(root, ProjectSettings(
            dataset=DatasetSettings(str(data), args.size),
            split=SplitSettings(seed=split_seed),
            model=ModelSettings("tf_efficientnet_lite0", str(args.weights))))
    started = time.perf_counter()
    search = run_search(project, SearchSettings(trials=args.trials, epochs=args.epochs,
                                                views=args.views, device=args.device))
    searched = time.perf_counter() - started
    best = search.best.number if search.best else None
    batch = _reusable(project, args, best) if args.reuse else None
    if batch is not None:
        print(f"  ({task}, split seed {split_seed}: reusing batch {batch.batch_id})")
    else:
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


FIGURES = ("balanced_accuracy", "weighted_f1", "auc_roc")


def _means(result: dict, key: str) -> list[float]:
    """Tuned, untuned and probe: each one's mean over the seeds of ``key``."""
    row = result["analysis"].row(key)
    return [s.mean if s is not None else float("nan") for s in
            (row.tuned_summary, row.baseline_summary, row.probe_summary)]


def across_splits(task: str, results: list[dict]) -> str:
    """Each model's mean over the splits, and tuned - probe split by split."""
    lines = [f"== {task}: {len(results)} splits (split seeds 0..{len(results) - 1})",
             f"  {'figure':<28}{'tuned':>10}{'untuned':>10}{'probe':>10}{'tuned-probe':>14}"
             "   per split (tuned-probe)"]
    for key in FIGURES:
        per = [_means(r, key) for r in results]
        means = [sum(m[i] for m in per) / len(per) for i in range(3)]
        diffs = [m[0] - m[2] for m in per]
        lines.append(f"  {key:<28}" + "".join(f"{m:>10.3f}" for m in means)
                     + f"{means[0] - means[2]:>+14.3f}   "
                     + " ".join(f"{d:+.3f}" for d in diffs))
    return "\n".join(lines)


def table(task: str, result: dict) -> str:
    from allgui.core.validation.calibration import Calibration
    from allgui.core.validation.run_record import BASELINE, PROBE, TUNED

    a, b = result["analysis"], result["batch"]
    labels = (TUNED, BASELINE, PROBE)
    lines = [f"== {task}, split seed {b.split.seed}: {b.test_set}; {len(b.seeds)} seeds; search "
             f"{result['search_s']:.0f} s, all {result['total_s']:.0f} s",
             f"  {'figure':<28}{'tuned':>10}{'untuned':>10}{'probe':>10}{'tuned-probe':>14}"]
    for key in FIGURES:
        row = a.row(key)
        means = _means(result, key)
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
    parser.add_argument("--splits", type=int, default=1,
                        help="repeat the pipeline on this many splits (split seeds 0..N-1)")
    parser.add_argument("--reuse", action="store_true",
                        help="take a project's finished batch of this protocol instead of "
                             "training it again")
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
        results = []
        for split_seed in range(max(1, args.splits)):
            results.append(run_task(task, args, work, split_seed))
            print(table(task, results[-1]), flush=True)
        if len(results) > 1:
            print(across_splits(task, results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
