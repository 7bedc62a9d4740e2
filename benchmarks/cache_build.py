"""Cold build of the preprocessing cache on a C-NMC-sized tree.

Writes 10,661 BMPs of 450 x 450 (the size and count of C-NMC 2019's training
set, with its real file names when ../shared/fixtures is present) and builds
the cache at 224 px from nothing, as the first run of a project does. Prints
images per second. The issue's target: at least 400 images/s on a 2-core
machine.

    python benchmarks/cache_build.py                 # temp folder, removed after
    python benchmarks/cache_build.py --out /data/x   # keep the tree there
    python benchmarks/cache_build.py --count 2000    # a shorter run

Note: the files were just written, so the operating system probably holds
them in memory; this measures decoding and resizing, not the disk.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from allgui.core.dataset.cache import ImageCache  # noqa: E402
from allgui.core.dataset.demo import CellPainter, patient_style  # noqa: E402
from allgui.core.dataset.discover import discover  # noqa: E402
from allgui.core.dataset.parallel import default_workers  # noqa: E402

FILE_LIST = REPO.parent / "shared" / "fixtures" / "cnmc_file_list.txt"
CNMC_TRAINING = 10_661


def training_names(count: int) -> list[str]:
    if FILE_LIST.is_file():
        names = [n for n in FILE_LIST.read_text().split() if "/training_data/" in n]
        if len(names) >= count:
            return names[:count]
    return [
        f"C-NMC_Leukemia/training_data/fold_{k % 3}/{lab}/UID_{pre}{k % 40}_{k}_1_{lab}.bmp"
        for k in range(count)
        for lab, pre in [("all", "") if k % 3 else ("hem", "H")]
    ]


def write_tree(root: Path, count: int, size: int = 450) -> None:
    """Real-looking cells (a few drawn ones), each file made unique by a stamp."""
    painter = CellPainter(size)
    rng = np.random.default_rng(0)
    bases = []
    for k in range(8):
        style = patient_style(rng)
        buf = io.BytesIO()
        Image.fromarray(painter.cell(rng, "all" if k % 2 else "hem", style)).save(buf, "BMP")
        bases.append(bytearray(buf.getvalue()))
    offset = int.from_bytes(bases[0][10:14], "little")
    made: set[Path] = set()
    for n, rel in enumerate(training_names(count)):
        data = bases[n % len(bases)]
        data[offset : offset + 4] = n.to_bytes(4, "little")  # unique content per file
        path = root / rel
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        path.write_bytes(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="folder for the tree (kept); default: a temp folder")
    parser.add_argument("--count", type=int, default=CNMC_TRAINING)
    parser.add_argument("--size", type=int, default=224, help="cache image size")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()

    base = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="allgui-bench-"))
    tree, cache_dir = base / "tree", base / "cache"
    try:
        t0 = time.perf_counter()
        if not tree.exists():
            write_tree(tree, args.count)
        t1 = time.perf_counter()
        index = discover(tree)
        paths = [r.path for r in index.records]
        shutil.rmtree(cache_dir, ignore_errors=True)  # cold: nothing cached
        workers = args.workers or default_workers()
        t2 = time.perf_counter()
        build = ImageCache(cache_dir, args.size, workers=workers).build(paths)
        t3 = time.perf_counter()
        assert build.decoded == len(paths) and not build.bad_files
        rate = len(paths) / (t3 - t2)
        load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
        print(f"tree: {len(paths):,} BMPs of 450 x 450 written in {t1 - t0:.1f} s")
        print(f"workers: {workers} (CPU cores available: {default_workers()})")
        print(f"cold cache build at {args.size} px: {t3 - t2:.1f} s, {rate:,.0f} images/s")
        print(f"load average after the run (1/5/15 min): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        print(f"target >= 400 images/s: {'met' if rate >= 400 else 'NOT met'}")
    finally:
        if not args.out:
            shutil.rmtree(base, ignore_errors=True)
        else:
            shutil.rmtree(cache_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
