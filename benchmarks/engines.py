"""Every CPU feature engine on this machine, side by side: speed and fidelity.

    python benchmarks/engines.py                       # efficientnet_b2, 224 px, batch 16
    python benchmarks/engines.py --backbone tf_efficientnet_lite0 --rounds 8

Speed (random weights: the timing is the same as with trained ones): the same
images through each path in turns, one batch per path per round, so a load
that comes and goes on a shared machine falls on every path alike. Each path
gets wall images/s and images per CPU-second (this process's CPU time, all
its threads), and both as a ratio to allgui's pass as it was (augmentation +
onnxruntime fp32, spinning threads), the figure the targets are set against.

Fidelity (``--fidelity-weights``, a real backbone such as the fixtures'
tf_efficientnet_lite0): features of real images (``--images``, a folder of
class sub-folders) through each precision against torch fp32: cosine (mean,
worst) and a logistic regression trained on torch fp32 features of half the
images, scored on the other half's features from each engine (the accuracy a
head trained in fp32 keeps), beside onnxruntime's plain static int8 (QDQ,
MinMax), which allgui never uses.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LITE0 = Path("/work/shared/fixtures/weights/tf_efficientnet_lite0.safetensors")
REALDATA = Path("/work/shared/fixtures/realdata/aria_all")


def machine() -> str:
    from allgui.core.machine import cpu_flags, native_bf16, physical_cores

    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = cpu_flags()
    isa = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16",
                       "amx_int8") if f in flags]
    load = os.getloadavg()
    return (f"{model}; {physical_cores()} physical cores; {', '.join(isa) or 'no AVX2'}; "
            f"native bf16: {'yes' if native_bf16() else 'no'}; load average "
            f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


def _images(size: int, n: int, folder: Path | None):
    import numpy as np

    if folder is None or not folder.is_dir():
        rng = np.random.default_rng(0)
        return rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), None
    from PIL import Image

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in
                   (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"))
    rng = np.random.default_rng(0)
    files = [files[i] for i in rng.permutation(len(files))[:n]]
    classes = sorted({p.parent.name for p in files})
    images = np.stack([np.asarray(Image.open(p).convert("RGB").resize((size, size)))
                       for p in files])
    return images, np.array([classes.index(p.parent.name) for p in files])


def engines(model, images, calibration, threads: int, qdq: bool) -> dict:
    """name -> a function of a uint8 batch giving features (N, C), or a refusal."""
    import onnxruntime as ort
    import torch

    from allgui.core.train import openvino_engine as ov
    from allgui.core.train.augment import model_input, random_affine_matrices, view_generator
    from allgui.core.train.features import extract
    from allgui.core.train.runtime import OrtBackbone, export_backbone

    size = images.shape[1]
    data = export_backbone(model, size)
    x_of = {}

    def inputs(batch):
        # Where the batch's pixels are, not id(): a freed slice's id comes back.
        key = (batch.__array_interface__["data"][0], batch.shape)
        if key not in x_of:
            x_of.clear()
            x_of[key] = model_input(batch, model.mean, model.std, "cpu").contiguous()
        return x_of[key]

    def eager(batch):
        model.backbone.to(memory_format=torch.channels_last)
        with torch.inference_mode():
            x = inputs(batch).contiguous(memory_format=torch.channels_last)
            return model.pool(model.forward_features(x)).numpy()

    def ort_session(spinning: bool, blob: bytes = data):
        o = ort.SessionOptions()
        o.intra_op_num_threads, o.inter_op_num_threads = threads, 1
        o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if not spinning:
            o.add_session_config_entry("session.intra_op.allow_spinning", "0")
            o.add_session_config_entry("session.inter_op.allow_spinning", "0")
        return ort.InferenceSession(blob, sess_options=o, providers=["CPUExecutionProvider"])

    spinning, quiet = ort_session(True), ort_session(False)
    out: dict = {
        "_inputs": inputs,  # the normalised batch, made before the bare engines are timed
        "eager torch fp32, channels_last": eager,
        "onnxruntime fp32 (bare session)": lambda b: quiet.run(None, {"images": inputs(b).numpy()})[0],
    }
    matrices = random_affine_matrices(len(images), view_generator(0, 0))

    def allgui_pass(runner):
        def run(batch):
            rows = slice(0, len(batch))
            return extract(model, batch, torch.device("cpu"), matrices=matrices[rows],
                           runtime=type("R", (), {"run": runner})())
        return run

    out["allgui's pass as it was (augmentation + onnxruntime fp32, spinning)"] = allgui_pass(
        OrtBackbone(spinning, threads))
    out["allgui's pass, onnxruntime fp32 (no spinning)"] = allgui_pass(OrtBackbone(quiet, threads))
    if ov.installed():
        ov32 = ov.compile_model(ov.read_onnx(data), threads, "fp32")
        out["OpenVINO fp32 (bare)"] = lambda b: ov32(inputs(b)).numpy()
        out["allgui's pass, OpenVINO fp32"] = allgui_pass(ov32)
        why = ov.refusal("bf16")
        if why:
            out["OpenVINO bf16"] = f"refused: {why}"
        else:
            ovbf = ov.compile_model(ov.read_onnx(data), threads, "bf16")
            out["OpenVINO bf16 (bare)"] = lambda b: ovbf(inputs(b)).numpy()
            out["allgui's pass, OpenVINO bf16"] = allgui_pass(ovbf)
        if ov.int8_installed():
            t = time.perf_counter()
            cal = model_input(calibration, model.mean, model.std, "cpu").numpy()
            ov8 = ov.compile_model(ov.quantized(data, cal, None), threads, "int8")
            print(f"  (NNCF int8 calibration on {len(cal)} images: "
                  f"{time.perf_counter() - t:.0f} s, once per weights)", flush=True)
            out["OpenVINO int8, NNCF (bare)"] = lambda b: ov8(inputs(b)).numpy()
            out["allgui's pass, OpenVINO int8 (NNCF)"] = allgui_pass(ov8)
        else:
            out["OpenVINO int8"] = "refused: NNCF is not installed"
    else:
        out["OpenVINO"] = "not installed (pip install allgui[openvino])"
    if qdq:
        out["onnxruntime int8, static QDQ MinMax (never used by allgui)"] = _qdq(
            data, model_input(calibration, model.mean, model.std, "cpu").numpy(), ort_session,
            inputs)
    return out


def _qdq(data: bytes, calibration, ort_session, inputs):
    import tempfile

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{"images": calibration[i:i + 1]} for i in range(len(calibration))])

        def get_next(self):
            return next(self.items, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(data)
        quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ)
        session = ort_session(False, dst.read_bytes())
    return lambda b: session.run(None, {"images": inputs(b).numpy()})[0]


def speed(paths: dict, images, batch: int, rounds: int) -> dict:
    """name -> (wall images/s, images per CPU-second), measured in interleaved rounds."""
    runnable = {k: f for k, f in paths.items() if callable(f) and not k.startswith("_")}
    wall = dict.fromkeys(runnable, 0.0)
    cpu = dict.fromkeys(runnable, 0.0)
    done = dict.fromkeys(runnable, 0)
    for f in runnable.values():
        f(images[:batch])  # warm-up
    for r in range(rounds):
        start = (r * batch) % max(1, len(images) - batch + 1)
        chunk = images[start:start + batch]
        paths["_inputs"](chunk)
        for name, f in runnable.items():
            w, c = time.perf_counter(), time.process_time()
            f(chunk)
            wall[name] += time.perf_counter() - w
            cpu[name] += time.process_time() - c
            done[name] += len(chunk)
    return {k: (done[k] / wall[k], done[k] / max(cpu[k], 1e-9)) for k in runnable}


def fidelity(paths: dict, images, labels) -> dict:
    """name -> (cosine mean, worst, accuracy of an fp32-trained probe on its features)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from allgui.core.train.fidelity import cosines

    plain = {k: f for k, f in paths.items()
             if callable(f) and "pass" not in k and not k.startswith("_")}
    reference = np.concatenate([plain["eager torch fp32, channels_last"](images[i:i + 16])
                                for i in range(0, len(images), 16)])
    order = np.random.default_rng(0).permutation(len(images))
    fit, held = order[: len(order) // 2], order[len(order) // 2:]
    mean, scale = reference[fit].mean(0), reference[fit].std(0) + 1e-6
    probe = LogisticRegression(C=1.0, max_iter=3000).fit((reference[fit] - mean) / scale,
                                                         labels[fit])
    out = {}
    for name, f in plain.items():
        feats = np.concatenate([f(images[i:i + 16]) for i in range(0, len(images), 16)])
        cos = cosines(reference, feats)
        acc = float(np.mean(probe.predict((feats[held] - mean) / scale) == labels[held]))
        out[name] = (float(np.nanmean(cos)), float(np.nanmin(cos)), acc)
    return out


def main(argv: list[str] | None = None) -> int:
    import torch

    from allgui.core.machine import physical_cores
    from allgui.core.model.classifier import ModelConfig, build_model

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backbone", default="efficientnet_b2")
    p.add_argument("--weights", default="none")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--calibration", type=int, default=64, help="images NNCF calibrates on")
    p.add_argument("--fidelity-backbone", default="tf_efficientnet_lite0")
    p.add_argument("--fidelity-weights", default=str(LITE0) if LITE0.is_file() else "")
    p.add_argument("--images", default=str(REALDATA) if REALDATA.is_dir() else "")
    p.add_argument("--fidelity-images", type=int, default=256)
    p.add_argument("--no-qdq", action="store_true", help="leave out onnxruntime's plain int8")
    p.add_argument("--fidelity-only", action="store_true", help="no speed table")
    args = p.parse_args(argv)
    threads = physical_cores()
    torch.set_num_threads(threads)
    print(f"machine: {machine()}")
    print(f"speed: {args.backbone} ({args.weights} weights), {args.size} px, batch {args.batch}, "
          f"{args.rounds} interleaved rounds, {threads} threads per engine", flush=True)
    folder = Path(args.images) if args.images else None
    if args.fidelity_only:
        args.rounds = 0
    images, _ = _images(args.size, max(args.batch * 2, args.calibration + args.batch), folder)
    model = build_model(ModelConfig(backbone=args.backbone, weights=args.weights)).eval()
    paths = {} if args.fidelity_only else engines(
        model, images[args.batch:], images[args.batch:][:args.calibration], threads, qdq=False)
    rates = speed(paths, images[:args.batch * 2], args.batch, args.rounds) if paths else {}
    base = next((v for k, v in rates.items() if k.startswith("allgui's pass as it was")), (1, 1))
    print(f"\n{'path':<72} {'img/s':>7} {'x':>6} {'img/CPU-s':>10} {'x':>6}")
    for name, (w, c) in rates.items():
        print(f"{name:<72} {w:7.1f} {w / base[0]:5.2f}x {c:10.1f} {c / base[1]:5.2f}x")
    for name, f in paths.items():
        if isinstance(f, str):
            print(f"{name:<72} {f}")
    if args.fidelity_weights and folder is not None:
        print(f"\nfidelity: {args.fidelity_backbone} ({Path(args.fidelity_weights).name}), "
              f"{args.fidelity_images} real images of {folder.name}, against eager torch fp32",
              flush=True)
        real, labels = _images(args.size, args.fidelity_images + args.calibration, folder)
        real_model = build_model(ModelConfig(backbone=args.fidelity_backbone,
                                             weights=args.fidelity_weights)).eval()
        fpaths = engines(real_model, real[:args.fidelity_images],
                         real[args.fidelity_images:], threads, qdq=not args.no_qdq)
        for name, (cm, cw, acc) in fidelity(fpaths, real[:args.fidelity_images],
                                            labels[:args.fidelity_images]).items():
            print(f"{name:<60} cosine {cm:.4f} (worst {cw:.4f})  fp32 probe accuracy {acc:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
