"""What this copy of allgui is: build flavour, platform, library versions.

Shown by Help > About and ``allgui --version``. A built app carries
``build_info.json`` beside this module (written by ``packaging/allgui.spec``);
a source checkout has none. Versions come from the installed packages'
metadata, so torch is never imported here: the classify build, which has no
torch, answers at once, and the full build does not pay torch's import just
to say its version. Only onnxruntime is imported, for its execution providers.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from allgui.gui.device import has_training_engine

BUILD_FILE = Path(__file__).with_name("build_info.json")

FLAVOURS = {
    "classify": "classify: classification with a finished model only (no training engine)",
    "full": "full: dataset, search, validation, export and classification",
    "full-cpu": "full-cpu: dataset, search, validation, export and classification, CPU only",
}


@dataclass(frozen=True)
class BuildInfo:
    flavour: str  # one of FLAVOURS, or "source" for a checkout / pip install
    built: str | None = None  # UTC date of the build
    commit: str | None = None
    pyinstaller: str | None = None
    torch_cuda: str | None = None  # torch.version.cuda at build time (None: CPU only)

    @property
    def frozen(self) -> bool:
        return self.flavour != "source"


def build_info(path: Path = BUILD_FILE) -> BuildInfo:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return BuildInfo("source")
    if not isinstance(data, dict):
        return BuildInfo("source")
    fields = ("built", "commit", "pyinstaller", "torch_cuda")
    return BuildInfo(str(data.get("flavour", "unknown")),
                     **{k: data.get(k) for k in fields if isinstance(data.get(k), str)})


# Distributions whose module a build may leave out while their metadata
# travels (PyInstaller collects metadata it sees asked for): a version is
# reported only when the module is there too.
MODULES = {"torch": "torch", "torchvision": "torchvision", "timm": "timm", "optuna": "optuna",
           "onnx": "onnx", "onnxscript": "onnxscript", "scikit-learn": "sklearn",
           "scipy": "scipy", "matplotlib": "matplotlib", "safetensors": "safetensors"}


def _findable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None  # locates, does not import
    except (ImportError, ValueError):
        return False


def dist_version(*names: str) -> str | None:
    """The installed version of the first of ``names`` present, else None."""
    for name in names:
        if name in MODULES and not _findable(MODULES[name]):
            continue
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def torch_gpu(version: str, requires: list[str]) -> str | None:
    """Which GPU a torch distribution is built for, from its metadata alone: a
    local version (``2.5.1+cu124``, ``+rocm6.2``, ``+cpu``) or, for PyPI's
    Linux wheels (a plain version, CUDA inside), its nvidia-* requirements.
    "CUDA 12.4", "CUDA", "ROCm 6.2", or None for a CPU-only build."""
    local = version.partition("+")[2]
    if local.startswith("cu") and local[2:].isdigit() and len(local) > 3:
        return f"CUDA {local[2:-1]}.{local[-1]}"
    if local.startswith("rocm"):
        return f"ROCm {local[4:]}"
    if local:
        return None
    return _cuda_from_requirements(requires)


def _cuda_from_requirements(requires: list[str]) -> str | None:
    """PyPI's Linux wheels name their CUDA in what they require: NVIDIA's
    toolkit (``cuda-toolkit[...]==13.0.3``) or its libraries (``nvidia-*-cu12``)."""
    names = [re.split(r"[\s\[=<>!~;]", r.strip(), maxsplit=1)[0].lower() for r in requires]
    for requirement, name in zip(requires, names, strict=True):
        found = re.search(r"==\s*(\d+)\.(\d+)", requirement)
        if name == "cuda-toolkit" and found:
            return f"CUDA {found[1]}.{found[2]}"
    majors = {m[1] for n in names if n.startswith("nvidia-") and (m := re.search(r"-cu(\d+)$", n))}
    if len(majors) == 1:
        return f"CUDA {majors.pop()}"
    return "CUDA" if any(n.startswith("nvidia-") for n in names) else None


def torch_text(info: BuildInfo) -> str:
    version = dist_version("torch")
    if version is None:
        return "not included in this build" if info.frozen else "not installed"
    if info.frozen:  # recorded by the build, which imported torch anyway
        gpu = f"CUDA {info.torch_cuda}" if info.torch_cuda else None
    else:
        gpu = torch_gpu(version, metadata.requires("torch") or [])
    return f"{version} ({gpu or 'CPU only'})"


def execution_providers() -> list[str]:
    """onnxruntime's providers on this machine, short names, best first. Azure
    is a remote-endpoint provider, not a device of this machine."""
    try:
        import onnxruntime as ort
    except ImportError:
        return []
    return [p.replace("ExecutionProvider", "") for p in ort.get_available_providers()
            if p != "AzureExecutionProvider"]


def onnxruntime_text() -> str:
    for dist in ("onnxruntime-gpu", "onnxruntime"):
        version = dist_version(dist)
        if version:
            return version if dist == "onnxruntime" else f"{version} ({dist})"
    return "not installed"


def qt_text() -> str:
    """Qt's version: asked of Qt in the window; read from the installed
    package's metadata elsewhere (``allgui --version`` loads no Qt library)."""
    core = sys.modules.get("PySide6.QtCore")
    if core is not None:  # already loaded by the window: ask it, importing nothing
        return f"{core.qVersion()} (PySide6 {sys.modules['PySide6'].__version__})"
    for dist in ("PySide6_Essentials", "PySide6"):
        version = dist_version(dist)
        if version:
            return f"{version} (PySide6 {version})"  # PySide6 ships the Qt of its version
    return "not installed"


def platform_text() -> str:
    return (f"{platform.system()} {platform.release()} ({platform.machine()}), "
            f"Python {platform.python_version()}")


def build_text(info: BuildInfo) -> str:
    if not info.frozen:
        engine = "training engine installed" if has_training_engine() else "no training engine"
        return f"from source ({engine})"
    made = ", ".join(x for x in (f"built {info.built}" if info.built else "",
                                 f"commit {info.commit}" if info.commit else "",
                                 f"PyInstaller {info.pyinstaller}" if info.pyinstaller else "")
                     if x)
    return FLAVOURS.get(info.flavour, info.flavour) + (f"; {made}" if made else "")


def report(info: BuildInfo | None = None) -> list[tuple[str, str]]:
    """(label, value) rows describing this copy, the same for About and --version."""
    from allgui import __version__

    info = info or build_info()
    providers = execution_providers()
    return [
        ("allgui", __version__),
        ("build", build_text(info)),
        ("platform", platform_text()),
        ("torch", torch_text(info)),
        ("onnxruntime", onnxruntime_text()),
        ("Qt", qt_text()),
        ("execution providers", ", ".join(providers) if providers else "none (no onnxruntime)"),
    ]


def version_text(info: BuildInfo | None = None) -> str:
    rows = report(info)
    first = f"allgui {rows[0][1]}"
    return "\n".join([first, *(f"  {label}: {value}" for label, value in rows[1:])])
