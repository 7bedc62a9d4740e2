"""Why a folder cannot be a dataset, said with its file names, before any
project is made for it (so a refused folder leaves nothing behind)."""

from __future__ import annotations

import os
from pathlib import Path

from allgui.core.dataset.imaging import IMAGE_EXTENSIONS

LOOK_AT = 20_000  # entries read at most: a huge folder is left to the full scan
SHOWN = 12  # files named in the explanation


def _reason(path: Path) -> str:
    suffix = path.suffix.lower()
    if path.name.startswith("."):
        return "hidden file"
    if suffix in IMAGE_EXTENSIONS:
        return "empty file (0 bytes)"
    return f"not an image ({suffix or 'no extension'}; allgui reads BMP, PNG, JPEG, TIFF, WebP, GIF)"


def folder_problem(folder: str | Path) -> str:
    """'' when ``folder`` holds at least one non-empty image file (or a CSV
    manifest); else why not, naming the files there and the reason for each."""
    folder = Path(folder)
    if not folder.is_dir():
        return f"The dataset folder {folder} does not exist." if not folder.exists() else (
            f"{folder} is a file, not a folder.")
    rejected: list[tuple[str, str]] = []
    seen = 0
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            seen += 1
            path = Path(dirpath) / name
            suffix = path.suffix.lower()
            try:
                size = path.stat().st_size
            except OSError as exc:
                rejected.append((str(path.relative_to(folder)), f"cannot be read ({exc.strerror})"))
                continue
            if suffix == ".csv" or (suffix in IMAGE_EXTENSIONS and size > 0
                                    and not name.startswith(".")):
                return ""
            rejected.append((str(path.relative_to(folder)), _reason(path)))
        if seen > LOOK_AT:
            return ""  # too many to judge here: the full scan says what it finds
    if not rejected:
        return f"The folder {folder} is empty: there is no file in it or below it."
    lines = [f"No images found in {folder}. Files there, and why each cannot be used:"]
    lines += [f"  {name}: {why}" for name, why in rejected[:SHOWN]]
    if len(rejected) > SHOWN:
        lines.append(f"  … and {len(rejected) - SHOWN} more")
    return "\n".join(lines)
