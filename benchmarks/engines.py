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
MinMax), which allgui never uses. Random-weight features are no fidelity test
(nothing in them is meant to be kept), so B2 is timed only; the fidelity
column comes from the real lite0 weights on real images, the fidelity check's
own measures (cosine, a quick probe's agreement) and its verdict.

``--kernels``: the network alone, one thread, OpenVINO's own time per kind of
layer in fp32 and int8: where int8 gains or loses on this CPU (without VNNI
an int8 multiply-add is two instructions, vpmaddubsw then vpmaddwd).
``--old-int8`` adds int8 as it was made before (NNCF on the unfused graph).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

STREAM = 4  # batches per call of the paths that overlap augmentation with the engine
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


def engines(model, images, calibration, threads: int, qdq: bool,
            old_int8: bool = False) -> dict:
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
    matrices = random_affine_matrices(max(len(images), 16 * STREAM), view_generator(0, 0))

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
            int8_model = ov.quantized(data, cal, None)
            out["_int8"] = (data, int8_model)  # for kernels()
            ov8 = ov.compile_model(int8_model, threads, "int8")
            print(f"  (NNCF int8 calibration on {len(cal)} images: "
                  f"{time.perf_counter() - t:.0f} s, once per weights)", flush=True)
            out["OpenVINO int8, NNCF (bare)"] = lambda b: ov8(inputs(b)).numpy()
            out["allgui's pass, OpenVINO int8 (NNCF)"] = allgui_pass(ov8)
            out["allgui's pass, OpenVINO int8, next batch augmented meanwhile"] = overlapped(
                model, matrices, ov8)
            if old_int8:
                ov8old = ov.compile_model(_old_int8(data, cal), threads, "int8")
                out["OpenVINO int8 as made before (unfused graph, bare)"] = (
                    lambda b: ov8old(inputs(b)).numpy())
                out["allgui's pass, OpenVINO int8 as made before"] = allgui_pass(ov8old)
        else:
            out["OpenVINO int8"] = "refused: NNCF is not installed"
    else:
        out["OpenVINO"] = "not installed (pip install allgui[openvino])"
    if qdq:
        out["onnxruntime int8, static QDQ MinMax (never used by allgui)"] = _qdq(
            data, model_input(calibration, model.mean, model.std, "cpu").numpy(), ort_session,
            inputs)
    return out


def _old_int8(data: bytes, calibration):
    """int8 as allgui made it before: NNCF on the graph as read from ONNX."""
    import nncf
    import numpy as np
    from nncf.quantization.advanced_parameters import (
        AdvancedQuantizationParameters,
        OverflowFix,
    )

    from allgui.core.train import openvino_engine as ov

    items = [np.ascontiguousarray(calibration[i:i + 1]) for i in range(len(calibration))]
    fix = OverflowFix.FIRST_LAYER if ov.int8_dot_products() else OverflowFix.ENABLE
    return nncf.quantize(ov.read_onnx(data), nncf.Dataset(items), subset_size=len(items),
                         fast_bias_correction=True,
                         advanced_parameters=AdvancedQuantizationParameters(overflow_fix=fix))


def overlapped(model, matrices, runner):
    """allgui's pass with the next batch augmented on a second thread while the
    engine runs the current one: each call is a stream of STREAM batches (the
    same images, each batch its own views), so there is a next batch to make."""
    from concurrent.futures import ThreadPoolExecutor

    from allgui.core.train.augment import model_input

    pool = ThreadPoolExecutor(1)

    def run(batch):
        def make(i):
            return model_input(batch, model.mean, model.std, "cpu",
                               matrices[(i * len(batch)) % len(matrices):][:len(batch)])
        pending = pool.submit(make, 0)
        out = None
        for i in range(STREAM):
            x = pending.result()
            if i + 1 < STREAM:
                pending = pool.submit(make, i + 1)
            out = runner(x)
        return out
    run.images_per_call = STREAM  # type: ignore[attr-defined]
    return run


def _qdq(data: bytes, calibration, ort_session, inputs):
    import tempfile

    import onnxruntime
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    onnxruntime.set_default_logger_severity(3)  # its notes on unused initialisers

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
            done[name] += len(chunk) * getattr(f, "images_per_call", 1)
    return {k: (done[k] / wall[k], done[k] / max(cpu[k], 1e-9)) for k in runnable}


def _engine_of(name: str) -> str:
    """Which engine and precision a row's path runs (its fidelity's key)."""
    if name.startswith("eager torch"):
        return "torch fp32"
    for words, tag in (("QDQ", "onnxruntime QDQ int8"), ("as made before", "OpenVINO int8 before"),
                       ("OpenVINO int8", "OpenVINO int8"), ("OpenVINO bf16", "OpenVINO bf16"),
                       ("OpenVINO fp32", "OpenVINO fp32"), ("onnxruntime", "onnxruntime fp32")):
        if words in name:
            return tag
    return name


def fidelity(paths: dict, images, labels) -> dict:
    """engine -> the fidelity check's measures against eager torch fp32 (cosine
    mean and worst, a quick probe's agreement) and its verdict."""
    import numpy as np

    from allgui.core.train.fidelity import FidelityThreshold, measure

    plain = {k: f for k, f in paths.items()
             if callable(f) and "pass" not in k and not k.startswith("_")}
    reference = np.concatenate([plain["eager torch fp32, channels_last"](images[i:i + 16])
                                for i in range(0, len(images), 16)])
    out = {}
    for name, f in plain.items():
        feats = np.concatenate([f(images[i:i + 16]) for i in range(0, len(images), 16)])
        result = measure(reference, feats, labels)
        out[_engine_of(name)] = (result, result.passes(FidelityThreshold()))
    return out


def kernels(model, images, int8, threads: int = 1) -> None:
    """OpenVINO's own time per kind of layer, fp32 against int8 (``int8``: the
    exported backbone and its int8 model), one thread."""
    import collections

    import numpy as np
    import openvino

    from allgui.core.train import openvino_engine as ov
    from allgui.core.train.augment import model_input

    data, int8_model = int8
    x = np.ascontiguousarray(model_input(images[:16], model.mean, model.std, "cpu").numpy())
    core = openvino.Core()
    config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads,
              "PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False, "PERF_COUNT": True}
    requests = {"fp32": core.compile_model(ov.read_onnx(data), "CPU", config),
                "int8": core.compile_model(int8_model, "CPU", config)}
    requests = {k: c.create_infer_request() for k, c in requests.items()}
    times: dict = {k: collections.Counter() for k in requests}
    cpu = dict.fromkeys(requests, 0.0)
    for r in requests.values():
        r.infer({0: x})
    for _ in range(3):
        for k, r in requests.items():
            c = time.process_time()
            r.infer({0: x})
            cpu[k] += time.process_time() - c
            for p in r.profiling_info:
                if p.status == p.Status.EXECUTED:
                    kind = {"GroupConvolution": "depthwise convolution",
                            "Convolution": "convolution"}.get(p.node_type, "everything else")
                    times[k][kind] += p.real_time.total_seconds() / 3
    print(f"\nthe network alone, {threads} thread, OpenVINO's time per batch of {len(x)} "
          f"(int8 kernels: {'VNNI/AMX' if ov.int8_dot_products() else 'no VNNI'}):")
    print(f"{'layers':<24} {'fp32 ms':>9} {'int8 ms':>9} {'int8 speed-up':>14}")
    for kind in ("convolution", "depthwise convolution", "everything else"):
        a, b = times["fp32"][kind] * 1e3, times["int8"][kind] * 1e3
        print(f"{kind:<24} {a:9.0f} {b:9.0f} {a / max(b, 1e-9):13.2f}x")
    print(f"{'images per CPU-second':<24} {48 / cpu['fp32']:9.1f} {48 / cpu['int8']:9.1f} "
          f"{cpu['fp32'] / cpu['int8']:13.2f}x")


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
    p.add_argument("--fidelity-calibration", type=int, default=128,
                   help="real images NNCF calibrates the real backbone on (allgui's 128)")
    p.add_argument("--no-qdq", action="store_true", help="leave out onnxruntime's plain int8")
    p.add_argument("--old-int8", action="store_true", help="add int8 as it was made before")
    p.add_argument("--kernels", action="store_true", help="fp32 against int8 per kind of layer")
    p.add_argument("--fidelity-only", action="store_true", help="no speed table")
    p.add_argument("--speed-only", action="store_true", help="no fidelity column")
    args = p.parse_args(argv)
    threads = physical_cores()
    torch.set_num_threads(threads)
    print(f"machine: {machine()}")
    folder = Path(args.images) if args.images else None
    fid: dict = {}
    if args.fidelity_weights and folder is not None and not args.speed_only:
        print(f"fidelity: {args.fidelity_backbone} (real weights, "
              f"{Path(args.fidelity_weights).name}) on {args.fidelity_images} real images of "
              f"{folder.name} against eager torch fp32, int8 calibrated on "
              f"{args.fidelity_calibration} others", flush=True)
        real, labels = _images(args.size, args.fidelity_images + args.fidelity_calibration,
                               folder)
        real_model = build_model(ModelConfig(backbone=args.fidelity_backbone,
                                             weights=args.fidelity_weights)).eval()
        fpaths = engines(real_model, real[:args.fidelity_images],
                         real[args.fidelity_images:], threads, qdq=not args.no_qdq,
                         old_int8=args.old_int8)
        fid = fidelity(fpaths, real[:args.fidelity_images], labels[:args.fidelity_images])
        del fpaths
    print(f"speed: {args.backbone} ({args.weights} weights: timed only, random-weight features "
          f"are no fidelity test), {args.size} px, batch {args.batch}, {args.rounds} interleaved "
          f"rounds, {threads} threads per engine", flush=True)
    images, _ = _images(args.size, max(args.batch * 2, args.calibration + args.batch), None)
    model = build_model(ModelConfig(backbone=args.backbone, weights=args.weights)).eval()
    paths = {} if args.fidelity_only else engines(
        model, images[args.batch:], images[args.batch:][:args.calibration], threads, qdq=False,
        old_int8=args.old_int8)
    rates = speed(paths, images[:args.batch * 2], args.batch, args.rounds) if paths else {}
    base = next((v for k, v in rates.items() if k.startswith("allgui's pass as it was")), (1, 1))
    print(f"\n{'path':<66} {'img/s':>6} {'x':>6} {'img/CPU-s':>9} {'x':>6}  fidelity "
          f"({args.fidelity_backbone}, real: cosine mean/worst, probe agreement)")
    for name, (w, c) in rates.items():
        print(f"{name:<66} {w:6.1f} {w / base[0]:5.2f}x {c:9.1f} {c / base[1]:5.2f}x  "
              f"{_fidelity_words(fid, name)}")
    for name, f in paths.items():
        if isinstance(f, str):
            print(f"{name:<66} {f}")
    extra = {k: v for k, v in fid.items() if not any(_engine_of(n) == k for n in rates)}
    for tag in extra:
        print(f"{tag + ' (fidelity only)':<66} {'':>30}  {_fidelity_words(fid, tag)}")
    if args.kernels and "_int8" in paths:
        kernels(model, images, paths["_int8"])
    return 0


def _fidelity_words(fid: dict, name: str) -> str:
    tag = _engine_of(name)
    if tag == "torch fp32":
        return "the reference" if fid else ""
    if tag not in fid:
        return ""
    result, passed = fid[tag]
    return (f"{result.cosine_mean:.4f} / {result.cosine_min:.4f}, {result.agreement:.2f}: "
            f"{'passes' if passed else 'REFUSED'}")


if __name__ == "__main__":
    raise SystemExit(main())
