"""Latency of classifying one cell image with an exported model, on this machine.

Exports EfficientNet-B2 at 224 px (random weights: the latency does not
depend on them) unless --model names an existing allgui ONNX file, then
times single-image classification as a user meets it (decode the BMP,
resize, run the model, and for 'with heatmap' bring the Grad-CAM map up to
the image's size):

- warm: the model already open; median and 95th percentile over --repeats;
- cold: a fresh Python process, from ``import allgui.core.infer`` to the
  first answer (and the whole process, interpreter start included).

Targets (issue 5): warm median < 40 ms without the heatmap, < 60 ms with it;
cold < 1.5 s. The machine's load is printed beside the figures, since other
work on a shared CPU slows everything down.

    python benchmarks/classify_latency.py [--model M.onnx] [--repeats 60] [--cold 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "fixtures" / "cnmc_samples"

COLD_CODE = """
import time, sys
t0 = time.perf_counter()
from allgui.core.infer import Classifier
clf = Classifier(sys.argv[1], device="cpu")
p = clf.classify(sys.argv[2], heatmap=True)
print(time.perf_counter() - t0, p.label)
"""


def export_b2(folder: Path, files: list[Path]) -> Path:
    import numpy as np
    import torch

    from allgui.core.dataset.imaging import prepare_image
    from allgui.core.export.onnx import ExportMetadata, check_images, export_onnx
    from allgui.core.model.classifier import ModelConfig, build_model
    from allgui.core.train.augment import model_input

    torch.manual_seed(0)
    model = build_model(ModelConfig(backbone="efficientnet_b2", weights="none", n_classes=2))
    # A random-weight network's activations shrink layer by layer into denormal
    # floats, which CPUs compute many times slower than normal ones: timings
    # would say nothing about a trained model. Recalibrating the batch-norm
    # statistics on a few images gives activations of a trained network's size.
    calibration = np.concatenate(
        [np.stack([prepare_image(f, 224) for f in files]), check_images(None, 224, 4)]
    )
    for module in model.backbone.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a plain average over the calibration batch
    model.backbone.train()
    with torch.no_grad():
        model.backbone.forward_features(model_input(calibration, model.mean, model.std, "cpu"))
    model.eval()

    path = folder / "efficientnet_b2_224.onnx"
    t = time.perf_counter()
    result = export_onnx(
        model, path, ExportMetadata(classes=("all", "hem"), positive_class="all"), files,
        input_size=224,
    )
    print(f"exported {path.name}: {result.size_bytes / 1e6:.1f} MB in {time.perf_counter() - t:.1f} s; "
          f"max |diff| vs torch on {result.images_checked} images: probabilities "
          f"{result.max_diff_probabilities:.1e}, logits {result.max_diff_logits:.1e}, "
          f"heatmap {result.max_diff_cam:.1e} (relative)")
    return path


def images() -> list[Path]:
    found = sorted(SAMPLES.rglob("*.bmp"))
    if found:
        return found
    import numpy as np
    from PIL import Image

    folder = Path(tempfile.mkdtemp())
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (450, 450, 3), dtype=np.uint8)).save(folder / f"{i}.bmp")
    print("(the shared C-NMC samples were not found; timing synthetic 450 x 450 BMPs)")
    return sorted(folder.glob("*.bmp"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def warm(model: Path, files: list[Path], repeats: int) -> dict[str, list[float]]:
    from allgui.core.infer import Classifier
    from allgui.core.infer.heatmap import save_heatmap_png

    clf = Classifier(model, device="cpu")
    print(f"providers: {', '.join(clf.providers)}")
    for f in files:  # warm-up: first runs allocate
        clf.classify(f)
    times: dict[str, list[float]] = {"without heatmap": [], "with heatmap": []}
    for i in range(repeats):
        f = files[i % len(files)]
        for key, heat in (("without heatmap", False), ("with heatmap", True)):
            t = time.perf_counter()
            clf.classify(f, heatmap=heat)
            times[key].append(time.perf_counter() - t)
    # drawing and writing the overlay PNG, which the CLI and the window add on top
    render = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(min(repeats, 20)):
            f = files[i % len(files)]
            p = clf.classify(f)
            t = time.perf_counter()
            save_heatmap_png(Path(tmp) / "h.png", clf.prepare(f).original, p.heatmap)
            render.append(time.perf_counter() - t)
    times["overlay PNG (extra)"] = render
    return times


def one_thread(model: Path, files: list[Path], repeats: int) -> tuple[list[float], list[float]]:
    """(wall, CPU) seconds per image on one onnxruntime thread, with heatmap. The
    CPU time is what the work takes on a core nobody else uses, however loaded
    the machine is."""
    from allgui.core.infer import Classifier

    clf = Classifier(model, device="cpu", threads=1)
    clf.classify(files[0])
    wall, cpu = [], []
    for i in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        clf.classify(files[i % len(files)], heatmap=True)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return wall, cpu


def cold(model: Path, image: Path, runs: int) -> tuple[list[float], list[float]]:
    inside, whole = [], []
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for _ in range(runs):
        t = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", COLD_CODE, str(model), str(image)],
            capture_output=True, text=True, check=True, env=env,
        ).stdout.split()
        whole.append(time.perf_counter() - t)
        inside.append(float(out[0]))
    return inside, whole


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="an allgui ONNX model (default: export B2)")
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--cold", type=int, default=5, help="fresh processes to time")
    args = parser.parse_args()

    import onnxruntime

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} "
          f"(1 min) at start; onnxruntime {onnxruntime.__version__}")
    tmp = tempfile.TemporaryDirectory()
    files = images()
    model = args.model or export_b2(Path(tmp.name), files)

    times = warm(model, files, args.repeats)
    print(f"\nwarm, single image ({args.repeats} runs each; decode + resize + model [+ heatmap]):")
    for key, values in times.items():
        ms = [v * 1000 for v in values]
        print(f"  {key:<22} median {statistics.median(ms):6.1f} ms   p95 {percentile(ms, 0.95):6.1f} ms")
    wall, cpu = one_thread(model, files, max(10, args.repeats // 2))
    wall, cpu = [v * 1000 for v in wall], [v * 1000 for v in cpu]
    print(f"  one thread, heatmap    median {statistics.median(wall):6.1f} ms   "
          f"p95 {percentile(wall, 0.95):6.1f} ms")
    print(f"  one thread, CPU time   median {statistics.median(cpu):6.1f} ms   "
          f"(= wall time on a core nobody else uses)")
    inside, whole = cold(model, files[0], args.cold)
    print(f"\ncold, fresh process ({args.cold} runs; import -> first answer with heatmap):")
    print(f"  import to answer       median {statistics.median(inside):6.2f} s   "
          f"max {max(inside):.2f} s")
    print(f"  whole process          median {statistics.median(whole):6.2f} s   "
          f"(interpreter start included)")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f} (1 min)")
    print("targets: warm median < 40 ms without heatmap, < 60 ms with; cold < 1.5 s")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
