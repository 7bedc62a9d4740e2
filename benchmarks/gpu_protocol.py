"""The study's whole protocol on a GPU, in one call, timed phase by phase.

    python benchmarks/gpu_protocol.py             # C-NMC size: 10,661 training images
                                                  # (8,529 train / 2,132 validation at
                                                  # 80/20) and a 1,867-image test set, 224 px,
                                                  # EfficientNet-B2, 20 x 10 search, 3 x 40 runs
    python benchmarks/gpu_protocol.py --reduced   # a few images and trials: a smoke test
                                                  # that runs on a CPU too

Phases: the image cache built from nothing (generated C-NMC-shaped data; the
generation is not counted), the 20-trial x 10-epoch cached search (its
feature pass timed apart), 3 x 40-epoch validation runs (sharing the search's
views, the default) with the linear probe, and the ONNX export of the chosen
run. For each phase it prints the wall time, backbone images/s, head
epochs/s and the GPU's peak memory. Targets on one H100: features >= 6,000
images/s, the whole protocol <= 90 s. Weights are random (``none``): the
timing is the same as with ImageNet weights.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

FULL = dict(images=10_661, size=224, backbone="efficientnet_b2", trials=20, epochs=10, views=10,
            runs=3, run_epochs=40)
REDUCED = dict(FULL, images=60, size=64, backbone="test_efficientnet", trials=2, epochs=2,
               views=2, runs=2, run_epochs=2)


class Meter:
    """Counts backbone images (feature progress) and head epochs as events come."""

    def __init__(self) -> None:
        self.images = 0
        self.epochs = 0
        self._last: dict[str, int] = {}

    def __call__(self, event) -> None:
        from allgui.core import events as ev

        if isinstance(event, ev.Progress) and "features" in event.phase:
            key = f"{event.job}/{event.phase}/{event.total}"
            before = self._last.get(key, 0)
            if event.done >= before:
                self.images += event.done - before
            self._last[key] = event.done
        elif isinstance(event, ev.EpochEnded):
            self.epochs += 1
        elif isinstance(event, ev.Notice) and event.level != "info":
            print(f"    {event.text}", flush=True)


def _memory(device) -> str:
    import torch

    if device.type != "cuda":
        return "-"
    peak = torch.cuda.max_memory_allocated(device) / 2**30
    torch.cuda.reset_peak_memory_stats(device)
    return f"{peak:.1f} GiB"


def main(argv: list[str] | None = None) -> int:
    import torch
    from protocol import dataset

    from allgui.core.dataset.prepared import prepare_project_data
    from allgui.core.export.from_run import export_run
    from allgui.core.project import DatasetSettings, ModelSettings, Project, ProjectSettings
    from allgui.core.search.runner import SearchSettings, run_search
    from allgui.core.train.device import resolve_device
    from allgui.core.train.sources import training_data_from_prepared
    from allgui.core.validation.run import ValidationSettings, run_batch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reduced", action="store_true", help="a smoke test (a CPU will do)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--keep", help="keep the project in this folder")
    args = parser.parse_args(argv)
    sizes = REDUCED if args.reduced else FULL
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {device} ({name}); torch {torch.__version__}")
    print("sizes: " + ", ".join(f"{k} {v}" for k, v in sizes.items())
          + (" (REDUCED: a smoke test, not the protocol)" if args.reduced else ""))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="allgui-gpu-"))
    rows: list[tuple[str, float, int, int, str]] = []
    try:
        t = time.perf_counter()
        data_dir = dataset(base / "data", sizes["images"])
        print(f"data generated in {time.perf_counter() - t:.1f} s (not counted)", flush=True)
        project = Project.create(base / "project", ProjectSettings(
            dataset=DatasetSettings(path=str(data_dir), image_size=sizes["size"]),
            model=ModelSettings(backbone=sizes["backbone"], weights="none")))

        def phase(label: str, fn):
            meter = Meter()
            started = time.perf_counter()
            out = fn(meter)
            rows.append((label, time.perf_counter() - started, meter.images, meter.epochs,
                         _memory(device)))
            print(f"  {label}: {rows[-1][1]:.1f} s", flush=True)
            return out

        prepared = phase("cache build", lambda m: prepare_project_data(project, m))
        data = training_data_from_prepared(prepared)
        result = phase("search", lambda m: run_search(project, SearchSettings(
            trials=sizes["trials"], epochs=sizes["epochs"], views=sizes["views"],
            device=str(device)), m, data=data))
        batch = phase("validation", lambda m: run_batch(project, ValidationSettings(
            runs=sizes["runs"], epochs=sizes["run_epochs"], device=str(device)), m,
            prepared=prepared))
        phase("export", lambda m: export_run(project, batch, out=base / "model.onnx"))
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print(f"\n{'phase':>12} {'seconds':>9} {'features/s':>11} {'heads: epochs/s':>16} "
          f"{'GPU peak':>9}")
    for label, s, images, epochs, memory in rows:
        fps = f"{images / s:,.0f}" if images else "-"
        hps = f"{epochs / s:,.1f}" if epochs else "-"
        print(f"{label:>12} {s:9.1f} {fps:>11} {hps:>16} {memory:>9}")
    print(f"{'total':>12} {sum(r[1] for r in rows):9.1f}")
    search_images = rows[1][2]
    print(f"search feature pass: {search_images:,} images in {result.features_s:.1f} s "
          f"({search_images / max(result.features_s, 1e-9):,.0f} images/s); features path: "
          f"{batch.environment.get('features', '?')}")
    print("targets on one H100: features >= 6,000 images/s; whole protocol <= 90 s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
