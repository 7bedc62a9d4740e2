"""Online vs cached frozen-backbone search, on the same generated data and machine.

    python benchmarks/search_speed.py            # sizes for this machine (reduced on a CPU)
    python benchmarks/search_speed.py --full     # the paper's sizes (a GPU machine)

The paper's search: 20 TPE trials x 10 epochs, frozen EfficientNet-B2, 224 px,
C-NMC's 10,661 training images. ``online`` runs augmentation + backbone + head
every epoch of every trial; ``cached`` runs the backbone once per augmented
view (K = 10) and trains the heads on the stored features. Both start from an
empty cache, so the cached time includes computing the features. Prints both
wall times and their ratio (target: cached at least 15x faster), and any
reduction from the paper's sizes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

PAPER = dict(images=10_661, size=224, backbone="efficientnet_b2", trials=20, epochs=10, views=10)
CPU = dict(images=100, size=224, backbone="efficientnet_b0", trials=20, epochs=10, views=10)


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="the paper's sizes")
    for key in PAPER:
        parser.add_argument(f"--{key}", type=type(PAPER[key]))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--extract-batch", type=int, default=0,
                        help="images per frozen-backbone pass, both modes (0: by device)")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    from allgui.core.train.device import resolve_device

    device = resolve_device(args.device)
    sizes = dict(PAPER if (args.full or device.type == "cuda") else CPU)
    sizes.update({k: getattr(args, k) for k in PAPER if getattr(args, k) is not None})
    reduced = {k: (sizes[k], PAPER[k]) for k in PAPER if sizes[k] != PAPER[k]}

    print(f"device: {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else os.cpu_count()} "
          f"{'GPU' if device.type == 'cuda' else 'CPU cores'}), torch threads {torch.get_num_threads()}")
    print("sizes: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
    if reduced:
        print("REDUCED from the paper's sizes: "
              + ", ".join(f"{k} {a} (paper {b})" for k, (a, b) in reduced.items()))
    times = {}
    for mode in ("cached", "online"):
        times[mode] = run_mode(mode, sizes, device, args.extract_batch)
    ratio = times["online"]["total"] / times["cached"]["total"]
    print()
    for mode, t in times.items():
        print(f"{mode:>7}: {t['total']:8.1f} s wall  (features {t['features']:.1f} s, "
              f"trials {t['trials']:.1f} s, data {t['data']:.1f} s not counted)")
    print(f"  ratio online / cached: {ratio:.1f}x  (target >= 15x)"
          + ("  [reduced sizes]" if reduced else ""))
    return 0


def run_mode(mode: str, sizes: dict, device, extract_batch: int) -> dict:
    from synthetic_cells import make_training_data

    from allgui.core.events import StudyFinished, TrialFinished
    from allgui.core.project import ModelSettings, Project, ProjectSettings
    from allgui.core.search.runner import SearchSettings, run_search

    t0 = time.perf_counter()
    data = make_training_data(sizes["images"], sizes["size"], seed=0)
    t_data = time.perf_counter() - t0
    finished = []

    def sink(event):
        if isinstance(event, TrialFinished):
            finished.append(event)
            print(f"  {mode}: trial {event.number} {event.value:.4f} {event.duration_s:.1f}s",
                  flush=True)
        elif isinstance(event, StudyFinished):
            print(f"  {mode}: {event.n_complete} complete, {event.n_failed} failed", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        project = Project.create(
            Path(tmp) / "p",
            ProjectSettings(model=ModelSettings(backbone=sizes["backbone"], weights="none")),
        )
        settings = SearchSettings(trials=sizes["trials"], epochs=sizes["epochs"],
                                  views=sizes["views"], mode=mode, device=str(device),
                                  extract_batch_size=extract_batch)
        start = time.perf_counter()
        result = run_search(project, settings, sink, data=data)
        total = time.perf_counter() - start
    return {"total": total, "features": result.features_s,
            "trials": sum(e.duration_s for e in finished), "data": t_data}


if __name__ == "__main__":
    raise SystemExit(main())
