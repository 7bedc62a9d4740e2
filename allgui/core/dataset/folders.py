"""What every dataset layout shares: listing folders (an unreadable one is
skipped and reported, like an unreadable file), checking image headers,
progress and Stop."""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterable
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from allgui.core.dataset.imaging import MAX_PIXELS, bomb_reason, is_image_name, too_large
from allgui.core.dataset.records import BadFile
from allgui.core.errors import Cancelled, DatasetError
from allgui.core.events import Progress, Sink

JOB = "scan"
SYNTHETIC_MARKER = "SYNTHETIC_DATA.txt"
CNMC_POSITIVE = "all"
# Folders that archivers and operating systems add, never data.
IGNORED_DIRS = {"__macosx", ".ds_store", "$recycle.bin"}
_PROGRESS_EVERY = 250


def children(folder: Path, skipped: list[BadFile] | None = None) -> list[Path]:
    """What ``folder`` holds, sorted. When it cannot be read: a DatasetError,
    or with ``skipped``, the folder added there with the reason and []."""
    try:
        return sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        if skipped is None:
            raise DatasetError(f"Cannot read the folder {folder}.", str(exc)) from exc
        skipped.append(BadFile(str(folder), f"cannot read the folder ({exc.strerror or exc})"))
        return []


def child_dir(folder: Path, name: str) -> Path | None:
    """The subfolder called ``name``, ignoring case (Windows zips vary); None
    also when ``folder`` cannot be read (the scan that lists it reports it)."""
    for child in children(folder, []):
        if child.is_dir() and child.name.lower() == name.lower():
            return child
    return None


def walk_images(folder: Path, skipped: list[BadFile] | None = None) -> Iterable[Path]:
    """Image-named files under ``folder``, sorted, skipping hidden and system
    files. A folder that cannot be read is added to ``skipped`` with the
    reason and left out (a DatasetError when there is no ``skipped``)."""
    stack = [folder]
    seen: set[str] = set()
    while stack:
        current = stack.pop()
        real = os.path.realpath(current)
        if real in seen:
            continue  # a link back up the tree: each folder once
        seen.add(real)
        for child in reversed(children(current, skipped)):
            if child.name.startswith(".") or child.name.lower() in IGNORED_DIRS:
                continue
            if child.is_dir():
                stack.append(child)
            elif is_image_name(child):
                yield child
    # (sorted order per folder; callers sort the full list)


def header_problem(path: Path) -> str | None:
    """Why ``path`` cannot be an image, from its header alone; None if it looks fine."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"cannot open the file ({exc.strerror or exc})"
    if size == 0:
        return "empty file (0 bytes)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)
            with Image.open(path) as img:
                w, h = img.size
    except UnidentifiedImageError:
        return "not an image, or a format allgui cannot read"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return bomb_reason(exc)
    except OSError as exc:
        return f"cannot open the file ({exc.strerror or exc})"
    except Exception as exc:  # Pillow's plugins raise assorted errors on damaged headers
        return f"corrupt image ({type(exc).__name__}: {exc})"
    if w * h > MAX_PIXELS:
        return too_large(w, h)
    if w == 0 or h == 0:
        return "image has no pixels"
    return None


class Checker:
    """Checks headers, counts progress, honours Stop."""

    def __init__(self, sink: Sink, cancel: threading.Event | None, total: int) -> None:
        self.sink, self.cancel, self.total = sink, cancel, total
        self.done = 0
        self.bad: list[BadFile] = []

    def ok(self, path: Path) -> bool:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("Scan stopped by the user.")
        problem = header_problem(path)
        self.done += 1
        if self.done % _PROGRESS_EVERY == 0 or self.done == self.total:
            self.sink(Progress(JOB, phase="checking images", done=self.done, total=self.total))
        if problem is not None:
            self.bad.append(BadFile(str(path), problem))
            return False
        return True


def is_synthetic(*folders: Path) -> bool:
    return any((f / SYNTHETIC_MARKER).is_file() for f in folders)


def storable_path(path: Path) -> str:
    """``path`` as text a project file can hold; a DatasetError when its name
    is not valid UTF-8 (bytes the file system allows but text cannot carry)."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(text).decode("utf-8", "backslashreplace")
        raise DatasetError(
            f"The dataset path {shown} holds characters that are not valid text (UTF-8), "
            "so a project cannot record it. Rename the folder (letters, digits, - and _ "
            "are always safe) and try again.",
        ) from None
    return text
