"""Build allgui's desktop app with PyInstaller: the one entry point, locally and in CI.

    python packaging/build.py --flavour classify            # onnxruntime only, small
    python packaging/build.py --flavour full                # search, validation, export
    python packaging/build.py --flavour full-cpu --package  # ... with CPU-only torch

Steps: make the self-test bundle (a tiny ONNX model, a sample cell image and
the answer torch gave for it), run PyInstaller on ``allgui.spec``, run the
built app's ``--version`` and ``--self-test``, and with ``--package`` make
the download for this platform in ``dist/packages/``: a ``.tar.gz`` with an
installer script and menu entry (Linux), an Inno Setup installer (Windows)
or a zipped ``.app`` (macOS). The app lands in ``dist/allgui-<flavour>/``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import targets  # noqa: E402  (packaging/targets.py, beside this file)


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def allgui_version() -> str:
    sys.path.insert(0, str(REPO))
    from allgui import __version__

    return __version__


def check_built_app(exe: Path, flavour: str) -> int:
    """``--version`` must name the flavour (the build info travelled); then the
    self-test must pass. Returns the exit code."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, env=env,
                             timeout=120)
    print(version.stdout, end="")
    if version.returncode != 0 or f"build: {flavour}:" not in version.stdout:
        print(f"--version did not name the {flavour} build:\n{version.stderr}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    result = subprocess.run([str(exe), "--self-test"], env=env, timeout=600)
    print(f"self-test exited {result.returncode} after {time.perf_counter() - started:.1f} s")
    return result.returncode


def write_checksum(path: Path) -> None:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    path.with_name(path.name + ".sha256").write_text(f"{digest.hexdigest()}  {path.name}\n")


def package_linux(app_dir: Path, out: Path, stem: str) -> Path:
    """``stem.tar.gz``: the onedir folder, install.sh, the menu entry and icon."""
    archive = out / f"{stem}.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
        tar.add(app_dir, arcname=f"{stem}/{app_dir.name}")
        tar.add(HERE / "linux" / "install.sh", arcname=f"{stem}/install.sh")
        tar.add(REPO / "allgui" / "resources" / "allgui.png", arcname=f"{stem}/allgui.png")
        entry = out / "allgui.desktop"
        entry.write_text(targets.desktop_entry(), encoding="utf-8")
        tar.add(entry, arcname=f"{stem}/allgui.desktop")
        entry.unlink()
    return archive


def find_iscc() -> Path:
    found = shutil.which("iscc") or shutil.which("ISCC")
    default = Path(os.environ.get("ProgramFiles(x86)", r"C:\Program Files (x86)"))
    candidate = Path(found) if found else default / "Inno Setup 6" / "ISCC.exe"
    if not candidate.is_file():
        raise SystemExit("Inno Setup 6.3 or later is needed for the Windows installer "
                         "(https://jrsoftware.org/isinfo.php, or: choco install innosetup)")
    return candidate


def package_windows(app_dir: Path, out: Path, stem: str, flavour: str) -> Path:
    subprocess.run([str(find_iscc()), f"/DAppVersion={allgui_version()}", f"/DFlavour={flavour}",
                    f"/DAppDir={app_dir}", f"/DOutputDir={out}", f"/DOutputName={stem}-setup",
                    str(HERE / "windows" / "allgui.iss")], check=True)
    return out / f"{stem}-setup.exe"


def package_macos(bundle: Path, out: Path, stem: str) -> Path:
    """A zip of the .app made by ditto, which keeps its symlinks and signature
    (what notarytool accepts; see README for signing and notarising)."""
    archive = out / f"{stem}.zip"
    subprocess.run(["ditto", "-c", "-k", "--sequesterRsrc", "--keepParent", str(bundle),
                    str(archive)], check=True)
    return archive


def package(dist: Path, flavour: str) -> Path:
    out = dist / "packages"
    out.mkdir(parents=True, exist_ok=True)
    stem = targets.package_stem(flavour, allgui_version(), sys.platform, platform.machine())
    app_dir = dist / targets.app_dir_name(flavour)
    if sys.platform == "win32":
        made = package_windows(app_dir, out, stem, flavour)
    elif sys.platform == "darwin":
        made = package_macos(dist / targets.bundle_name(flavour), out, stem)
    else:
        made = package_linux(app_dir, out, stem)
    write_checksum(made)
    print(f"packaged {made}: {made.stat().st_size / 2**20:.0f} MB")
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flavour", choices=targets.FLAVOURS, default="full")
    parser.add_argument("--dist", type=Path, default=REPO / "dist")
    parser.add_argument("--work", type=Path, default=REPO / "build" / "pyinstaller")
    parser.add_argument("--skip-self-test", action="store_true")
    parser.add_argument("--package", action="store_true",
                        help="then make this platform's installer or archive in DIST/packages")
    args = parser.parse_args(argv)
    dist = args.dist.resolve()

    selftest_dir = REPO / "build" / "selftest"
    subprocess.run(
        [sys.executable, str(HERE / "make_selftest.py"), str(selftest_dir)], check=True
    )

    env = dict(os.environ, ALLGUI_FLAVOUR=args.flavour, ALLGUI_SELFTEST_DIR=str(selftest_dir))
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean",
         "--distpath", str(dist), "--workpath", str(args.work / args.flavour),
         str(HERE / "allgui.spec")],
        check=True, env=env, cwd=REPO,
    )
    app_dir = dist / targets.app_dir_name(args.flavour)
    print(f"built {app_dir} in {time.perf_counter() - started:.0f} s; "
          f"{folder_size(app_dir) / 2**20:.0f} MB on disk")
    if not args.skip_self_test:
        code = check_built_app(targets.self_test_exe(dist, args.flavour, sys.platform),
                               args.flavour)
        if code != 0:
            return code
    if args.package:
        package(dist, args.flavour)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
