"""The paper's full-size search on one CUDA GPU, timed phase by phase.

    python benchmarks/gpu_check.py            # 10,661 images at 224 px, EfficientNet-B2,
                                              # 20 trials x 10 epochs, cached, K = 10
    python benchmarks/gpu_check.py --smoke    # a tiny setting that runs on a CPU, to
                                              # prove the script works

Target: the 20-trial search, feature extraction included, in under 5 minutes
on one H100. Data are generated (C-NMC-shaped synthetic cells), so nothing is
downloaded; backbone weights are random unless ``--weights`` names a file
(the timing is the same). With ``--online-trials N`` it also times N trials
of the online mode on the same data and prints the estimated ratio for 20.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

FULL = dict(images=10_661, size=224, backbone="efficientnet_b2", trials=20, epochs=10,
            views=10, extract_batch=256)
SMOKE = dict(images=64, size=32, backbone="test_efficientnet", trials=2, epochs=2, views=2,
             extract_batch=32)
TARGET_S = 300.0


class PhaseClock:
    """A sink that notes when each phase of the search starts and ends."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.features: list[float] = []  # times of feature progress events
        self.trials: list[tuple[int, float]] = []  # (trial, seconds)
        self.failed: list[str] = []

    def __call__(self, event) -> None:
        from allgui.core import events as ev

        now = time.perf_counter() - self.t0
        if isinstance(event, ev.Progress) and event.phase == "features":
            self.features.append(now)
        elif isinstance(event, ev.TrialFinished):
            self.trials.append((event.number, event.duration_s))
            print(f"  trial {event.number}: {event.value:.4f} in {event.duration_s:.2f}s",
                  flush=True)
        elif isinstance(event, ev.TrialFailed):
            self.failed.append(event.reason)
            print(f"  trial {event.number} failed: {event.reason}", flush=True)


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; runs on a CPU")
    for key, value in FULL.items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=type(value))
    parser.add_argument("--weights", default="none")
    parser.add_argument("--online-trials", type=int, default=1)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)

    sizes = dict(SMOKE if args.smoke else FULL)
    sizes.update({k: getattr(args, k) for k in FULL if getattr(args, k) is not None})
    cuda = torch.cuda.is_available()
    if not cuda and not args.smoke:
        print("No CUDA GPU here: this check is for a GPU machine (use --smoke to try it on a CPU).")
        return 2
    device = "cuda" if cuda else "cpu"
    name = torch.cuda.get_device_name(0) if cuda else "CPU"
    print(f"device: {name}; torch {torch.__version__}; sizes: {sizes}; weights {args.weights}")
    if args.smoke:
        print("SMOKE setting: tiny sizes, not the paper's; figures say only that it runs.")

    from synthetic_cells import make_training_data

    from allgui.core.project import ModelSettings, Project, ProjectSettings
    from allgui.core.search.runner import SearchSettings, run_search

    figures: dict[str, float | int | str] = {"device": name, **sizes}
    t = time.perf_counter()
    data = make_training_data(sizes["images"], sizes["size"], seed=0)
    figures["data_generation_s"] = time.perf_counter() - t
    print(f"data: {len(data.train_labels)} train + {len(data.val_labels)} val images "
          f"generated in {figures['data_generation_s']:.1f}s (not part of the search)")

    with tempfile.TemporaryDirectory() as tmp:
        project = Project.create(Path(tmp) / "p", ProjectSettings(
            model=ModelSettings(backbone=sizes["backbone"], weights=args.weights)))
        settings = SearchSettings(trials=sizes["trials"], epochs=sizes["epochs"],
                                  views=sizes["views"], mode="cached", device=device,
                                  extract_batch_size=sizes["extract_batch"])
        clock = PhaseClock()
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = run_search(project, settings, clock, data=data)
        total = time.perf_counter() - start
        trial_s = sum(s for _, s in clock.trials)
        figures.update(
            search_total_s=total,
            features_s=result.features_s,
            features_images=sizes["views"] * len(data.train_labels) + len(data.val_labels),
            trials_s=trial_s,
            mean_trial_s=trial_s / max(len(clock.trials), 1),
            other_s=total - result.features_s - trial_s,
            complete=result.n_complete,
            failed=result.n_failed,
            best_value=result.best.value if result.best else float("nan"),
        )
        if cuda:
            figures["max_gpu_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30

        if args.online_trials > 0:
            online = SearchSettings(study_name="online", trials=args.online_trials,
                                    epochs=sizes["epochs"], views=sizes["views"],
                                    mode="online", device=device,
                                    extract_batch_size=sizes["extract_batch"])
            oclock = PhaseClock()
            t = time.perf_counter()
            run_search(project, online, oclock, data=data)
            per_trial = (time.perf_counter() - t) / args.online_trials
            figures["online_s_per_trial"] = per_trial
            figures["online_estimated_20_trials_s"] = per_trial * sizes["trials"]
            figures["estimated_ratio_online_over_cached"] = per_trial * sizes["trials"] / total

    print()
    rows = [
        (f"features ({figures['features_images']:,} images)", figures["features_s"],
         f"{figures['features_images'] / max(figures['features_s'], 1e-9):,.0f} images/s"),
        (f"{figures['complete']} trials (heads)", figures["trials_s"],
         f"{figures['mean_trial_s']:.2f}s per trial"),
        ("study, model, other", figures["other_s"], ""),
        ("search total", figures["search_total_s"],
         "smoke setting: no target" if args.smoke else
         f"target < {TARGET_S:.0f}s on one H100: "
         + ("met" if figures["search_total_s"] < TARGET_S else "NOT met")),
    ]
    print(f"  {'phase':<30}{'seconds':>9}")
    for label, seconds, note in rows:
        print(f"  {label:<30}{seconds:9.1f}   {note}")
    if "online_s_per_trial" in figures:
        print(f"  online mode: {figures['online_s_per_trial']:.1f}s per trial; 20 trials "
              f"about {figures['online_estimated_20_trials_s']:.0f}s; ratio about "
              f"{figures['estimated_ratio_online_over_cached']:.1f}x (estimated from "
              f"{args.online_trials} trial(s))")
    if "max_gpu_memory_gib" in figures:
        print(f"  peak GPU memory {figures['max_gpu_memory_gib']:.1f} GiB")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0 if figures["failed"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
