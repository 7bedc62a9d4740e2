"""The desktop build's per-platform pieces, checked on any machine: the spec's
Windows and macOS branches (run against recording stand-ins for PyInstaller's
build steps, with ``sys.platform`` forced), the Windows version resource
(parsed by PyInstaller's own reader), the Info.plist, the .icns icon, the
Inno Setup script's inputs, and the Linux archive installed and removed for
real. The build itself is tests/test_packaging.py (slow)."""

from __future__ import annotations

import configparser
import os
import plistlib
import re
import shutil
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"
sys.path.insert(0, str(PACKAGING))
import build  # noqa: E402  (packaging/build.py)
import targets  # noqa: E402  (packaging/targets.py)

from allgui import __version__  # noqa: E402


@pytest.mark.parametrize(("version", "numbers"), [
    ("0.1.0", (0, 1, 0, 0)), ("1.2", (1, 2, 0, 0)), ("2.0.1rc1", (2, 0, 1, 0)),
    ("3.4.5.6", (3, 4, 5, 0)),
])
def test_windows_version_numbers(version, numbers):
    assert targets.version_numbers(version) == numbers


def _versioninfo(monkeypatch):
    """PyInstaller's reader of version resources. It imports pefile and, from
    PyInstaller.compat, win32api, which exists only on Windows; reading and
    writing the resource's bytes uses neither, so None stands in for it here."""
    pytest.importorskip("pefile", reason="PyInstaller's Windows tools need pefile")
    compat = pytest.importorskip("PyInstaller.compat")
    if not hasattr(compat, "win32api"):
        monkeypatch.setattr(compat, "win32api", None, raising=False)
    from PyInstaller.utils.win32 import versioninfo

    return versioninfo


def test_windows_version_resource_reads_back_through_pyinstaller(tmp_path, monkeypatch):
    versioninfo = _versioninfo(monkeypatch)
    path = tmp_path / "v.txt"
    path.write_text(targets.windows_version_info("1.2.3", "allgui-cli.exe", "full-cpu"))
    info = versioninfo.load_version_info_from_text_file(str(path))
    assert (info.ffi.fileVersionMS, info.ffi.fileVersionLS) == ((1 << 16) | 2, 3 << 16)
    # The bytes written into the .exe: VS_FIXEDFILEINFO (signature 0xFEEF04BD,
    # structure version, then the file version) and the strings in UTF-16.
    # (PyInstaller packs native longs: 4 bytes on Windows, 8 here.)
    raw = info.toRaw()
    fixed = raw.index(struct.pack("L", 0xFEEF04BD))
    assert struct.unpack_from("LLLL", raw, fixed)[2:] == ((1 << 16) | 2, 3 << 16)
    for text in ("allgui-cli.exe", "allgui (full-cpu)", "1.2.3", "research use only"):
        assert text.encode("utf-16-le") in raw


def test_info_plist_is_valid_and_says_what_the_app_is():
    plist = targets.info_plist("0.1.0", "classify")
    assert plistlib.loads(plistlib.dumps(plist)) == plist
    assert plist["CFBundleShortVersionString"] == "0.1.0"  # a str: a number crashes the app
    assert plist["NSHighResolutionCapable"] is True and plist["LSMinimumSystemVersion"]
    assert re.fullmatch(r"[A-Za-z0-9.-]+", targets.BUNDLE_ID) and targets.BUNDLE_ID.count(".") >= 2


def test_minimum_macos_is_the_newest_any_bundled_wheel_needs():
    tags = ["cp39-abi3-macosx_13_0_universal2", "cp311-cp311-macosx_14_0_arm64",
            "cp311-cp311-manylinux_2_28_x86_64", "py3-none-any"]
    assert targets.macos_minimum(tags) == "14.0"
    assert targets.macos_minimum(["py3-none-any"]) == targets.MACOS_MINIMUM
    assert targets.macos_minimum(["cp311-cp311-macosx_10_9_x86_64"]) == targets.MACOS_MINIMUM
    # The installed wheels' tags are read (manylinux here, macosx on a Mac).
    assert any("-" in tag for tag in targets.wheel_tags(("numpy",)))


def test_icns_has_every_size_from_the_png(tmp_path):
    png = REPO / "allgui" / "resources" / "allgui.png"
    icns = targets.make_icns(png, tmp_path / "allgui.icns")
    with Image.open(icns) as im:
        assert im.format == "ICNS"
        sizes = {s[0] * s[2] for s in im.info["sizes"]}
        assert set(targets.ICNS_SIZES) <= sizes
        im.size = (256, 256)
        im.load(scale=1)
        with Image.open(png) as source:
            assert im.convert("RGBA").tobytes() == source.convert("RGBA").tobytes()


def test_desktop_entry_is_a_valid_menu_entry(tmp_path):
    entry = tmp_path / "allgui.desktop"
    entry.write_text(targets.desktop_entry("/opt/my apps/allgui"))
    parsed = configparser.ConfigParser(interpolation=None)
    parsed.optionxform = str
    parsed.read(entry)
    section = parsed["Desktop Entry"]
    assert section["Type"] == "Application" and section["Icon"] == "allgui"
    assert section["Exec"] == '"/opt/my apps/allgui"'  # quoted: the path may hold spaces
    if shutil.which("desktop-file-validate"):
        result = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True,
                                text=True)
        assert result.returncode == 0 and "error" not in result.stdout, result.stdout


def test_executables_and_self_test_program_per_platform(tmp_path):
    assert targets.executables("win32") == {"gui": "allgui.exe", "cli": "allgui-cli.exe"}
    assert targets.self_test_exe(tmp_path, "full", "win32") == (
        tmp_path / "allgui-full" / "allgui-cli.exe")
    assert targets.self_test_exe(tmp_path, "classify", "darwin") == (
        tmp_path / "allgui-classify.app" / "Contents" / "MacOS" / "allgui")
    assert targets.self_test_exe(tmp_path, "full-cpu", "linux") == (
        tmp_path / "allgui-full-cpu" / "allgui")
    assert targets.package_stem("full", "0.1.0", "win32", "AMD64") == (
        "allgui-full-0.1.0-windows-x86_64")
    assert targets.package_stem("classify", "0.1.0", "darwin", "arm64") == (
        "allgui-classify-0.1.0-macos-arm64")


class Recorder:
    """Stands in for one of PyInstaller's build steps (Analysis, EXE, ...),
    recording what the spec asked of it."""

    made: list[Recorder] = []

    def __init__(self, kind, *args, **kwargs):
        self.kind, self.args, self.kwargs = kind, args, kwargs
        self.pure, self.scripts, self.binaries = [], [], []
        self.datas = list(kwargs.get("datas", []))
        Recorder.made.append(self)


def run_spec(monkeypatch, tmp_path, platform: str, flavour: str = "classify") -> list[Recorder]:
    pytest.importorskip("PyInstaller")
    from PyInstaller.utils import hooks  # noqa: F401  (imported under the real platform)

    Recorder.made = []
    steps = {k: (lambda *a, _k=k, **kw: Recorder(_k, *a, **kw))
             for k in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")}
    monkeypatch.setenv("ALLGUI_FLAVOUR", flavour)
    monkeypatch.setattr(sys, "platform", platform)
    namespace = {"SPECPATH": str(PACKAGING), "workpath": str(tmp_path / "work"),
                 "__file__": str(PACKAGING / "allgui.spec"), **steps}
    exec(compile((PACKAGING / "allgui.spec").read_text(), "allgui.spec", "exec"), namespace)
    return Recorder.made


def _kinds(made, kind):
    return [r for r in made if r.kind == kind]


def test_spec_on_windows_makes_a_windowed_app_and_its_console_twin(monkeypatch, tmp_path):
    load_version_info_from_text_file = _versioninfo(monkeypatch).load_version_info_from_text_file
    made = run_spec(monkeypatch, tmp_path, "win32")
    exes = _kinds(made, "EXE")
    assert [(e.kwargs["name"], e.kwargs["console"]) for e in exes] == [
        ("allgui", False), ("allgui-cli", True)]
    for exe in exes:
        assert Path(exe.kwargs["icon"]).name == "allgui.ico" and Path(exe.kwargs["icon"]).is_file()
        assert exe.kwargs["exclude_binaries"] is True and exe.kwargs["upx"] is False
        info = load_version_info_from_text_file(exe.kwargs["version"])
        strings = {s.name: s.val for s in info.kids[0].kids[0].kids}
        assert strings["OriginalFilename"] == exe.kwargs["name"] + ".exe"
        assert strings["FileVersion"] == __version__
    (collect,) = _kinds(made, "COLLECT")
    assert collect.args[:2] == tuple(exes) and collect.kwargs["name"] == "allgui-classify"
    assert not _kinds(made, "BUNDLE")


def test_spec_on_macos_makes_an_app_bundle(monkeypatch, tmp_path):
    made = run_spec(monkeypatch, tmp_path, "darwin")
    (exe,) = _kinds(made, "EXE")
    # Windowed: a console program in a bundle would be LSBackgroundOnly (no Dock icon).
    assert exe.kwargs["console"] is False and exe.kwargs["icon"] is None
    assert "codesign_identity" not in exe.kwargs  # ad hoc unless an identity is given
    (bundle,) = _kinds(made, "BUNDLE")
    assert bundle.args == tuple(_kinds(made, "COLLECT"))
    assert bundle.kwargs["name"] == "allgui-classify.app"
    assert bundle.kwargs["bundle_identifier"] == targets.BUNDLE_ID
    assert bundle.kwargs["version"] == __version__
    assert bundle.kwargs["info_plist"]["CFBundleName"] == "allgui"
    with Image.open(bundle.kwargs["icon"]) as icon:
        assert icon.format == "ICNS"


def test_spec_signs_on_macos_when_given_an_identity(monkeypatch, tmp_path):
    monkeypatch.setenv("ALLGUI_CODESIGN_IDENTITY", "Developer ID Application: Lab (TEAMID)")
    (exe,) = _kinds(run_spec(monkeypatch, tmp_path, "darwin"), "EXE")
    assert exe.kwargs["codesign_identity"] == "Developer ID Application: Lab (TEAMID)"
    assert Path(exe.kwargs["entitlements_file"]).is_file()
    plistlib.loads(Path(exe.kwargs["entitlements_file"]).read_bytes())


def test_spec_on_linux_and_what_the_classify_build_carries(monkeypatch, tmp_path):
    made = run_spec(monkeypatch, tmp_path, "linux")
    (exe,) = _kinds(made, "EXE")
    assert exe.kwargs["name"] == "allgui" and exe.kwargs["console"] is True
    (analysis,) = _kinds(made, "Analysis")
    assert {"torch", "timm", "optuna"} <= set(analysis.kwargs["excludes"])
    dests = {dest for _, dest in analysis.kwargs["datas"]}
    assert "allgui/gui" in dests and "allgui_selftest" in dests
    info = (tmp_path / "work" / "build_info.json").read_text()
    assert '"flavour": "classify"' in info


def test_spec_refuses_a_cuda_torch_for_the_cpu_flavour(monkeypatch, tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.version.cuda:
        pytest.skip("this torch is CPU-only: the spec accepts it")
    with pytest.raises(SystemExit, match="download.pytorch.org/whl/cpu"):
        run_spec(monkeypatch, tmp_path, "linux", flavour="full-cpu")


def test_inno_setup_script_gets_every_define_it_needs():
    iss = (PACKAGING / "windows" / "allgui.iss").read_text()
    passed = set(re.findall(r'/D(\w+)=', Path(build.__file__).read_text()))
    required = set(re.findall(r"#ifndef (\w+)\s*\n\s*#error", iss))
    used = set(re.findall(r"\{#(\w+)\}", iss)) | set(re.findall(r"#(?:el)?if (\w+) ==", iss))
    assert required == {"AppVersion", "AppDir"} and required <= passed
    assert used <= passed | set(re.findall(r"#define (\w+)", iss))
    assert '{group}\\allgui ({#Flavour})"; Filename: "{app}\\allgui.exe"' in iss
    assert 'Filename: "{uninstallexe}"' in iss
    assert (PACKAGING / "windows" / "..\\..\\allgui\\resources\\allgui.ico".replace(
        "\\", "/")).resolve().is_file()  # SetupIconFile, relative to the script


def test_linux_archive_installs_into_a_clean_folder_and_uninstalls(tmp_path):
    app = tmp_path / "dist" / "allgui-classify"
    (app / "_internal").mkdir(parents=True)
    (app / "_internal" / "lib.so").write_bytes(b"\0" * 10)
    (app / "allgui").write_text('#!/bin/sh\necho "allgui ran with: $*"\n')
    (app / "allgui").chmod(0o755)
    out = tmp_path / "packages"
    out.mkdir()
    archive = build.package_linux(app, out, "allgui-classify-0.1.0-linux-x86_64")
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "unpacked", filter="tar")
    unpacked = tmp_path / "unpacked" / "allgui-classify-0.1.0-linux-x86_64"
    assert os.access(unpacked / "install.sh", os.X_OK)

    prefix = tmp_path / "clean prefix"  # a space, as in many home folders
    env = dict(os.environ, HOME=str(tmp_path / "home"))
    subprocess.run(["sh", str(unpacked / "install.sh"), "--prefix", str(prefix)], check=True,
                   env=env, capture_output=True)
    lib = prefix / "lib" / "allgui-classify"
    ran = subprocess.run([str(prefix / "bin" / "allgui"), "--self-test"], capture_output=True,
                         text=True, check=True)
    assert ran.stdout.strip() == "allgui ran with: --self-test"
    entry = (prefix / "share" / "applications" / "allgui.desktop").read_text()
    assert f'Exec="{lib}/allgui"' in entry and f"TryExec={lib}/allgui" in entry
    assert (prefix / "share/icons/hicolor/256x256/apps/allgui.png").is_file()
    assert (lib / "_internal" / "lib.so").is_file()

    subprocess.run(["sh", str(unpacked / "install.sh"), f"--prefix={prefix}"], check=True,
                   env=env, capture_output=True)  # again: replaces, keeps one copy
    assert sorted(p.name for p in (prefix / "lib").iterdir()) == ["allgui-classify"]
    subprocess.run(["sh", str(lib / "uninstall.sh")], check=True, capture_output=True)
    left = {str(p.relative_to(prefix)) for p in prefix.rglob("*") if not p.is_dir()}
    # Only the menu's and icon theme's caches stay (shared, refreshed on removal).
    assert left <= {"share/applications/mimeinfo.cache", "share/icons/hicolor/icon-theme.cache"}
    assert not (prefix / "bin" / "allgui").exists() and not lib.exists()


def test_ci_workflow_builds_every_flavour_through_build_py():
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "build.yml").read_text())
    (job,) = workflow["jobs"].values()
    runs = job["strategy"]["matrix"]["include"]
    assert {r["flavour"] for r in runs} == set(targets.FLAVOURS)
    for system in ("ubuntu", "windows", "macos"):
        flavours = {r["flavour"] for r in runs if r["os"].startswith(system)}
        assert "classify" in flavours and flavours & {"full", "full-cpu"}, system
    commands = "\n".join(step.get("run", "") for step in job["steps"])
    assert "python packaging/build.py --flavour ${{ matrix.flavour }} --package" in commands
    assert "--self-test" in commands
    assert any(step.get("uses", "").startswith("actions/upload-artifact@") for step in job["steps"])
