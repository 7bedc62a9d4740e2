"""Build allgui's desktop app with PyInstaller.

    python packaging/build.py --flavour classify     # onnxruntime only, small
    python packaging/build.py --flavour full         # search, validation, export

Steps: make the self-test bundle (a tiny ONNX model, a sample cell image and
the answer torch gave for it), run PyInstaller on ``allgui.spec``, then run
the built app's ``--self-test``. The app lands in ``dist/allgui-<flavour>/``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flavour", choices=("full", "classify"), default="full")
    parser.add_argument("--dist", type=Path, default=REPO / "dist")
    parser.add_argument("--work", type=Path, default=REPO / "build" / "pyinstaller")
    parser.add_argument("--windowed", action="store_true", help="no console window (Windows)")
    parser.add_argument("--skip-self-test", action="store_true")
    args = parser.parse_args(argv)

    selftest_dir = REPO / "build" / "selftest"
    subprocess.run(
        [sys.executable, str(HERE / "make_selftest.py"), str(selftest_dir)], check=True
    )

    env = dict(os.environ, ALLGUI_FLAVOUR=args.flavour, ALLGUI_SELFTEST_DIR=str(selftest_dir))
    if args.windowed:
        env["ALLGUI_WINDOWED"] = "1"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean",
         "--distpath", str(args.dist), "--workpath", str(args.work / args.flavour),
         str(HERE / "allgui.spec")],
        check=True, env=env, cwd=REPO,
    )
    app_dir = args.dist / f"allgui-{args.flavour}"
    print(f"built {app_dir} in {time.perf_counter() - started:.0f} s; "
          f"{folder_size(app_dir) / 2**20:.0f} MB on disk")
    if args.skip_self_test:
        return 0
    exe = app_dir / ("allgui.exe" if sys.platform == "win32" else "allgui")
    started = time.perf_counter()
    result = subprocess.run([str(exe), "--self-test"], env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    print(f"self-test exited {result.returncode} after {time.perf_counter() - started:.1f} s")
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
