"""The app knows what it is: ``allgui --version`` and Help > About name the
build's flavour, the platform, the versions of torch, onnxruntime and Qt, and
the execution providers, without importing torch."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import onnxruntime
import pytest
from PySide6.QtCore import qVersion

from allgui import __version__
from allgui.cli import main
from allgui.gui import buildinfo
from allgui.gui.buildinfo import BuildInfo, build_info, torch_gpu, version_text

REPO = Path(__file__).resolve().parents[1]


def test_version_names_build_platform_libraries_and_providers(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"allgui {__version__}"
    assert "build: from source" in out
    assert f"platform: {platform.system()}" in out and platform.python_version() in out
    assert f"onnxruntime: {onnxruntime.__version__}" in out
    assert f"Qt: {qVersion()}" in out
    providers = [p.removesuffix("ExecutionProvider") for p in onnxruntime.get_available_providers()
                 if p != "AzureExecutionProvider"]  # a remote endpoint, not this machine
    assert "CPU" in providers and f"execution providers: {', '.join(providers)}" in out
    assert "torch: " in out


def test_version_does_not_import_torch():
    code = ("import sys\nfrom allgui.cli import main\ntry:\n    main(['--version'])\n"
            "except SystemExit:\n    pass\nprint('torch imported:', 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True, timeout=120).stdout
    assert "torch imported: False" in out and "onnxruntime:" in out


def test_a_built_copy_says_its_flavour_and_what_it_leaves_out(tmp_path, monkeypatch):
    path = tmp_path / "build_info.json"
    path.write_text(json.dumps({"flavour": "classify", "built": "2026-12-02", "commit": "abc1234",
                                "pyinstaller": "6.22.3", "torch_cuda": None}))
    info = build_info(path)
    assert info == BuildInfo("classify", "2026-12-02", "abc1234", "6.22.3", None) and info.frozen
    real = buildinfo.dist_version
    monkeypatch.setattr(buildinfo, "dist_version",
                        lambda *names: None if "torch" in names else real(*names))
    text = version_text(info)
    assert "build: classify: classification with a finished model only" in text
    assert "; built 2026-12-02, commit abc1234, PyInstaller 6.22.3" in text
    assert "torch: not included in this build" in text


def test_a_full_build_reports_the_cuda_it_was_built_with(monkeypatch):
    monkeypatch.setattr(buildinfo, "dist_version",
                        lambda *names: "2.9.0" if "torch" in names else "1.0")
    assert buildinfo.torch_text(BuildInfo("full", torch_cuda="12.8")) == "2.9.0 (CUDA 12.8)"
    assert buildinfo.torch_text(BuildInfo("full-cpu")) == "2.9.0 (CPU only)"


def test_a_module_left_out_has_no_version_even_if_its_metadata_travelled(monkeypatch):
    # The classify build carries torch's dist-info (PyInstaller collects metadata
    # it sees asked for) but not torch: About must not claim torch is there.
    assert buildinfo.dist_version("torch") is not None  # installed in this environment
    monkeypatch.setattr(buildinfo, "MODULES", {**buildinfo.MODULES, "torch": "no_such_module"})
    assert buildinfo.dist_version("torch") is None
    assert buildinfo.torch_text(BuildInfo("classify")) == "not included in this build"


def test_missing_or_broken_build_file_means_source(tmp_path):
    assert build_info(tmp_path / "absent.json") == BuildInfo("source")
    (tmp_path / "bad.json").write_text("{not json")
    assert not build_info(tmp_path / "bad.json").frozen
    (tmp_path / "list.json").write_text("[1, 2]")
    assert not build_info(tmp_path / "list.json").frozen


@pytest.mark.parametrize(("version", "requires", "gpu"), [
    ("2.5.1+cu124", [], "CUDA 12.4"),
    ("2.9.0+cu130", [], "CUDA 13.0"),
    ("2.5.1+cpu", ["nvidia-nccl-cu12"], None),
    ("2.5.1+rocm6.2", [], "ROCm 6.2"),
    ("2.9.0", ['nvidia-cudnn-cu12==9.1; platform_system == "Linux"'], "CUDA 12"),
    # torch 2.14's Linux wheel on PyPI, as its metadata says it (About said "CUDA")
    ("2.14.1", ['cuda-toolkit[cublas,cudart]==13.0.3; platform_system == "Linux"',
                'nvidia-cudnn-cu13==9.24.0.43; platform_system == "Linux"'], "CUDA 13.0"),
    ("2.9.0", ["nvidia-nccl-cu12==2.1", "nvidia-cudnn-cu13==9"], "CUDA"),
    ("2.9.0", ["filelock", "sympy"], None),  # PyPI's Windows and macOS wheels
])
def test_torch_gpu_from_metadata(version, requires, gpu):
    assert torch_gpu(version, requires) == gpu


@pytest.mark.gui
def test_about_box_shows_this_copy(qtbot):
    from allgui.gui.about import AboutDialog, about_html

    html = about_html(BuildInfo("full-cpu", built="2026-12-02"))
    assert "full-cpu: dataset, search, validation, export and classification, CPU only" in html
    dialog = AboutDialog()
    qtbot.addWidget(dialog)
    text = dialog.text.toPlainText()
    assert "This copy" in text and "execution providers" in text and "CPU" in text
    assert "from source" in text and qVersion() in text
    assert f"{onnxruntime.__version__}" in text
