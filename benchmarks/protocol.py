"""The paper's whole protocol, cold, on C-NMC-sized generated data, timed phase by phase.

    python benchmarks/protocol.py             # 10,661 images at 224 px, EfficientNet-B2
    python benchmarks/protocol.py --reduced   # fewer images and trials, for a CPU; it
                                              # extrapolates the full size from its rates

Phases (data generation is not counted): the image cache built from nothing,
the 20-trial x 10-epoch cached search (K = 10 views; its features timed
apart), 3 x 40-epoch validation runs (sharing the search's views, the
default, with the linear probe reading the runs' cached features: their first
view, the plain validation and test features; ``--fresh-views`` gives each
run its own), and the ONNX export of the chosen run. Before them it
measures the backbone's feature rate side by side on the same images, in
turns: eager torch (channels_last, batch 16), a bare onnxruntime session, and
allgui's own feature pass (augmentation included, the path ``allgui
optimize`` takes, on the engine it chooses). Weights are random (``none``):
the timing is the same as with ImageNet weights.

The extrapolation counts C-NMC as it is used: 10,661 training images split
80/20 into 8,529 for training and 2,132 for validation, and the 1,867-image
preliminary test set; it prints the backbone passes the protocol makes, the
old way (each run its own views, the probe extracting plain training
features) and now.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CNMC = 10_661  # C-NMC 2019's training images
CNMC_TRAIN, CNMC_VAL = 8_529, 2_132  # their 80/20 split into training and validation
CNMC_TEST = 1_867  # the preliminary test set, labelled
FULL = dict(images=CNMC, size=224, backbone="efficientnet_b2", trials=20, epochs=10, views=10,
            runs=3, run_epochs=40)
REDUCED = dict(FULL, images=120, trials=2)
BENCH_IMAGES = 48  # images per path in the side-by-side feature measurement


def dataset(root: Path, images: int) -> Path:
    """A C-NMC-shaped tree of about ``images`` training images (73 patients as
    C-NMC: 47 ALL, 26 HEM) and a test set of 3 patients."""
    from allgui.core.dataset.demo import make_demo_dataset

    per_patient = max(1, round(images / (47 + 26 * 0.94)))
    if images < 400:  # few images: fewer patients, so each has several
        return make_demo_dataset(root, patients_all=8, patients_hem=4,
                                 images_per_patient=max(2, round(images / 11.8)),
                                 test_patients_all=2, test_patients_hem=1, unlabelled_images=0)
    return make_demo_dataset(root, patients_all=47, patients_hem=26,
                             images_per_patient=per_patient, unlabelled_images=0)


def feature_rates(model, images) -> tuple[dict[str, float], dict[str, float]]:
    """Images/s of each feature path on the same images, measured in turns (one
    batch of 16 per path per round), so that a load that comes and goes on a
    shared machine falls on every path alike; and images per CPU-second of this
    process (all its threads), which other work on the machine hardly moves."""
    import numpy as np
    import torch

    from allgui.core.train.augment import model_input, random_affine_matrices, view_generator
    from allgui.core.train.features import extract, feature_runtime
    from allgui.core.train.runtime import _session, export_backbone, physical_cores

    cpu = torch.device("cpu")
    images = np.ascontiguousarray(images[:BENCH_IMAGES])
    x_all = model_input(images, model.mean, model.std, cpu).contiguous()
    matrices = random_affine_matrices(len(images), view_generator(0, 0))
    model.eval()
    backbone = model.backbone
    session = _session(export_backbone(model, images.shape[1]), physical_cores())
    runtime = feature_runtime(model, images, cpu)

    def eager(s: slice, channels_last: bool) -> None:
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        backbone.to(memory_format=fmt)
        with torch.inference_mode():
            model.pool(model.forward_features(x_all[s].contiguous(memory_format=fmt)))

    paths = {
        "eager torch, channels_last, batch 16": lambda s: eager(s, True),
        "eager torch, batch 16": lambda s: eager(s, False),
        "bare onnxruntime session, batch 16": lambda s: session.run(
            None, {"images": x_all[s].numpy()}),
        f"allgui's pass, augmentation included: {runtime.path.description}": lambda s: extract(
            model, images[s], cpu, matrices=matrices[s], runtime=runtime),
    }
    spent = dict.fromkeys(paths, 0.0)
    cpu_spent = dict.fromkeys(paths, 0.0)
    for fn in paths.values():
        fn(slice(0, 16))  # warm-up
    for start in range(0, len(images), 16):
        for name, fn in paths.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn(slice(start, start + 16))
            spent[name] += time.perf_counter() - t0
            cpu_spent[name] += time.process_time() - c0
    backbone.to(memory_format=torch.contiguous_format)
    return ({name: len(images) / s for name, s in spent.items()},
            {name: len(images) / s for name, s in cpu_spent.items()})


class Clock:
    """A sink that prints trials and runs and counts feature images by phase."""

    def __init__(self) -> None:
        self.trials: list[float] = []
        self.notices: list[str] = []

    def __call__(self, event) -> None:
        from allgui.core import events as ev

        if isinstance(event, ev.TrialFinished):
            self.trials.append(event.duration_s)
            print(f"    trial {event.number}: {event.value:.3f} in {event.duration_s:.1f} s",
                  flush=True)
        elif isinstance(event, ev.RunFinished):
            print(f"    run {event.run} finished", flush=True)
        elif isinstance(event, ev.Notice) and event.text not in self.notices:
            self.notices.append(event.text)
            print(f"    {event.text}", flush=True)


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reduced", action="store_true", help="a size for a CPU, extrapolated")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--keep", help="keep the project in this folder")
    parser.add_argument("--fresh-views", action="store_true",
                        help="validation runs draw their own views (the old default)")
    for key, value in FULL.items():  # any size changed by hand is a reduction too
        parser.add_argument(f"--{key.replace('_', '-')}", type=type(value))
    args = parser.parse_args(argv)
    sizes = dict(REDUCED if args.reduced else FULL)
    sizes.update({k: getattr(args, k) for k in FULL if getattr(args, k) is not None})
    args.reduced = args.reduced or sizes != FULL
    from allgui.core.train.device import resolve_device
    from allgui.core.train.runtime import physical_cores

    device = resolve_device(args.device)
    where = (torch.cuda.get_device_name(device) if device.type == "cuda"
             else f"{os.cpu_count()} CPU threads, {physical_cores()} physical cores")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"device: {device} ({where}); torch threads {torch.get_num_threads()}; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("sizes: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
    if args.reduced:
        print("REDUCED from the full protocol: " + ", ".join(
            f"{k} {sizes[k]} (full {FULL[k]})" for k in FULL if sizes[k] != FULL[k])
            + "; full-size times below are extrapolated from the measured rates")
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="allgui-protocol-"))
    try:
        return run(base, sizes, device, args.reduced, args.fresh_views)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


def run(base: Path, sizes: dict, device, reduced: bool, fresh_views: bool = False) -> int:
    from allgui.core.dataset.prepared import prepare_project_data
    from allgui.core.export.from_run import export_run
    from allgui.core.model.classifier import ModelConfig, build_model
    from allgui.core.project import DatasetSettings, ModelSettings, Project, ProjectSettings
    from allgui.core.search.runner import SearchSettings, run_search
    from allgui.core.train.sources import training_data_from_prepared
    from allgui.core.validation.run import ValidationSettings, run_batch

    t0 = time.perf_counter()
    data_dir = dataset(base / "data", sizes["images"])
    print(f"data generated in {time.perf_counter() - t0:.1f} s (not counted)")
    project = Project.create(base / "project", ProjectSettings(
        dataset=DatasetSettings(path=str(data_dir), image_size=sizes["size"]),
        model=ModelSettings(backbone=sizes["backbone"], weights="none")))
    clock = Clock()
    times: dict[str, float] = {}

    t = time.perf_counter()
    prepared = prepare_project_data(project, clock)
    times["cache build"] = time.perf_counter() - t
    n_all = sum(len(p.labels) for p in (prepared.train, prepared.val, prepared.test))
    n_train, n_val, n_test = (len(prepared.train.labels), len(prepared.val.labels),
                              len(prepared.test.labels))
    print(f"  cache build: {n_all} images in {times['cache build']:.1f} s "
          f"(train {n_train}, validation {n_val}, test {n_test})")

    rates: dict[str, float] = {}
    cpu_rates: dict[str, float] = {}
    if device.type == "cpu":
        model = build_model(ModelConfig(backbone=sizes["backbone"], weights="none"))
        rates, cpu_rates = feature_rates(model, prepared.train.images)
        for name, r in rates.items():
            print(f"  features: {r:7.1f} images/s ({cpu_rates[name]:5.1f} per CPU-second)  "
                  f"{name}")
        del model

    data = training_data_from_prepared(prepared)
    t = time.perf_counter()
    result = run_search(project, SearchSettings(trials=sizes["trials"], epochs=sizes["epochs"],
                                                views=sizes["views"], device=str(device)),
                        clock, data=data)
    times["search"] = time.perf_counter() - t
    times["search: features"] = result.features_s
    times["search: trials"] = sum(clock.trials)
    print(f"  search: {times['search']:.1f} s (features {result.features_s:.1f} s, "
          f"{len(clock.trials)} trials {sum(clock.trials):.1f} s)")

    t = time.perf_counter()
    batch = run_batch(project, ValidationSettings(runs=sizes["runs"], epochs=sizes["run_epochs"],
                                                  device=str(device),
                                                  independent_views=fresh_views),
                      clock, prepared=prepared)
    times["validation"] = time.perf_counter() - t
    epochs_run = sum(r.epochs_run for r in batch.runs if r.finished)
    print(f"  validation: {times['validation']:.1f} s ({len(batch.runs)} runs, "
          f"{epochs_run} epochs in all); features path {batch.environment.get('features')}")

    t = time.perf_counter()
    export_run(project, batch, out=base / "model.onnx")
    times["export"] = time.perf_counter() - t
    print(f"  export: {times['export']:.1f} s")

    total = times["cache build"] + times["search"] + times["validation"] + times["export"]
    print()
    for name, s in times.items():
        print(f"{name:>20}: {s:8.1f} s")
    print(f"{'total':>20}: {total:8.1f} s  (measured at the sizes above)")
    if rates:
        pass_rate = next(r for n, r in rates.items() if n.startswith("allgui"))
        eager = rates["eager torch, channels_last, batch 16"]
        print(f"allgui's CPU feature pass / eager torch (channels_last, batch 16): "
              f"{pass_rate / eager:.2f}x (target >= 1.5x)")
    if reduced:
        head_s = full_size_head(project, sizes, n_train, n_val, n_all, device)
        idle = None
        if cpu_rates:  # the pass's CPU-time rate on every physical core: this CPU, idle
            from allgui.core.train.runtime import physical_cores

            idle = next(r for n, r in cpu_rates.items() if n.startswith("allgui")) \
                * physical_cores()
        extrapolate(times, sizes, n_train, n_val, n_all, head_s, result.features_s,
                    fresh_views, idle)
    return 0


def full_size_head(project, sizes, n_train, n_val, n_all, device) -> float:
    """Seconds of one 10-epoch head fit (the study's best configuration) on
    C-NMC-sized cached features: a head's cost grows with its rows, but a
    trial also has a fixed cost, so it is measured at full size, not scaled."""
    import numpy as np

    from allgui.core.model.classifier import build_model
    from allgui.core.search.runner import best_configuration
    from allgui.core.train.features import FeatureSet
    from allgui.core.train.loop import FitConfig, TrainSettings, fit
    from allgui.core.train.sources import CachedViews, TrainingData

    config, hp, _ = best_configuration(project, n_classes=2)
    model = build_model(config)
    rows, val_rows = CNMC_TRAIN, CNMC_VAL  # C-NMC's own split, not this set's proportions
    rng = np.random.default_rng(0)
    views = tuple(rng.random((rows, model.num_features), dtype=np.float32)
                  for _ in range(sizes["views"]))
    features = FeatureSet(views, rng.random((val_rows, model.num_features), dtype=np.float32),
                          key="bench", seed=0)
    blank = np.zeros((1, 1, 1, 3), np.uint8)
    data = TrainingData(np.broadcast_to(blank, (rows, 1, 1, 3)), np.arange(rows) % 2,
                        np.broadcast_to(blank, (val_rows, 1, 1, 3)), np.arange(val_rows) % 2,
                        ("all", "hem"))
    settings = TrainSettings(views=sizes["views"], early_stopping_patience=10**6)
    t = time.perf_counter()
    fit(FitConfig(config, hp, epochs=FULL["epochs"], settings=settings),
        CachedViews(data, features=features), device=device, base_model=model)
    seconds = time.perf_counter() - t
    print(f"  one full-size head fit ({rows} rows, {FULL['epochs']} epochs, batch "
          f"{hp.batch_size}): {seconds:.2f} s")
    return seconds


def protocol_passes(fresh_views: bool, probe_plain: bool) -> dict[str, int]:
    """Backbone passes of the study's protocol at C-NMC size: the search's views
    (those its epochs read) and validation features, then what validation adds:
    each run's own views when they are not shared, the probe's plain training
    features when it does not read the runs', and the test set (once: the
    plain-feature store serves the probe and every run)."""
    from allgui.core.train.views import views_read

    passes = {"search": views_read(FULL["views"], FULL["epochs"]) * CNMC_TRAIN + CNMC_VAL}
    if fresh_views:  # each run its own views (its validation part is the search's)
        passes["validation runs' own views"] = (
            FULL["runs"] * views_read(FULL["views"], FULL["run_epochs"]) * CNMC_TRAIN)
    if probe_plain:
        passes["probe's plain training features"] = CNMC_TRAIN
    passes["test set"] = CNMC_TEST
    return passes


def extrapolate(times, sizes, n_train, n_val, n_all, head_s, search_features_s, fresh_views,
                idle_rate: float | None = None):
    """The full protocol's time from this run's rates: backbone passes by the
    search's measured feature rate, heads by a full-size head fit (validation
    runs counted at all 40 epochs, an upper bound), the cache by its images/s,
    the export as measured. C-NMC's own sizes, not this set's proportions.
    Printed for the old way (each run its own views, the probe extracting plain
    training features) and the way this run went; with ``idle_rate`` (allgui's
    pass in images per CPU-second times the physical cores) the feature work
    on this CPU without other work too."""
    from allgui.core.train.views import views_read

    # what the search computed: the views its epochs read, and the validation part
    feats_search = views_read(sizes["views"], sizes["epochs"]) * n_train + n_val
    rate = feats_search / max(search_features_s, 1e-9)
    scale = (CNMC + CNMC_TEST) / max(1, n_all)  # the cache: every image once, test included
    print()
    print(f"EXTRAPOLATED to C-NMC size (training {CNMC_TRAIN:,}, validation {CNMC_VAL:,}, "
          f"test {CNMC_TEST:,}; feature rate {rate:.1f} images/s as measured in the search "
          f"({feats_search:,} images in {search_features_s:.1f} s, the engine's one-off export "
          "included)):")
    ways = {"before (each run its own views, the probe extracting plain training features)":
            protocol_passes(fresh_views=True, probe_plain=True),
            "now (" + ("each run its own views, as asked" if fresh_views
                       else "runs share the search's views") + ", the probe reading the runs' "
            "cached features)": protocol_passes(fresh_views=fresh_views, probe_plain=False)}
    for name, passes in ways.items():
        est = {
            "cache build": times["cache build"] * scale,
            "search: features": passes["search"] / rate,
            "search: trials": head_s * FULL["trials"],
            "validation: features": (sum(passes.values()) - passes["search"]) / rate,
            "validation: heads": head_s * FULL["run_epochs"] / FULL["epochs"] * FULL["runs"],
            "export": times["export"],
        }
        features = est["search: features"] + est["validation: features"]
        print(f"  {name}:")
        for what, s in est.items():
            print(f"{what:>24}: {s:9.0f} s")
        print(f"{'total':>24}: {sum(est.values()):9.0f} s ({sum(est.values()) / 60:.1f} min)")
        print(f"    feature work: {features:.0f} s ({features / 3600:.2f} h) at the search's "
              f"rate under this load; backbone passes: "
              + ", ".join(f"{k} {v:,}" for k, v in passes.items())
              + f"; total {sum(passes.values()):,}")
        if idle_rate:
            idle = sum(passes.values()) / idle_rate
            print(f"    feature work on this CPU idle ({idle_rate:.1f} images/s: allgui's pass "
                  f"per CPU-second x physical cores): {idle:.0f} s ({idle / 3600:.2f} h)")


if __name__ == "__main__":
    raise SystemExit(main())
