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


def walk_images(folder: Path, skipped: list[BadFile] | None = None,
                root: Path | None = None) -> Iterable[Path]:
    """Image-named files under ``folder``, sorted, skipping hidden and system
    files. A folder that cannot be read is added to ``skipped`` with the
    reason and left out (a DatasetError when there is no ``skipped``).

    Links are followed at most once and never out of ``root`` (the dataset
    folder the user picked; ``folder`` by default): a link that leads outside
    it, back up the tree (``all/loop -> ..``, which would list every class
    again under this one), or from inside a linked folder is left out, and
    added to ``skipped`` with the reason."""
    base = os.path.realpath(root if root is not None else folder)
    stack: list[tuple[Path, bool]] = [(folder, False)]  # (folder, reached through a link)
    seen: set[str] = set()
    while stack:
        current, linked = stack.pop()
        real = os.path.realpath(current)
        if real in seen:
            continue  # one folder reached twice: each folder once
        seen.add(real)
        for child in reversed(children(current, skipped)):
            if child.name.startswith(".") or child.name.lower() in IGNORED_DIRS:
                continue
            through = linked
            if child.is_symlink():
                why = _link_problem(child, real, base, linked)
                if why is not None:
                    if skipped is not None:
                        skipped.append(BadFile(str(child), why))
                    continue
                through = True
            if child.is_dir():
                stack.append((child, through))
            elif is_image_name(child):
                yield child
    # (sorted order per folder; callers sort the full list)


def _link_problem(link: Path, parent_real: str, base: str, linked: bool) -> str | None:
    """Why the link ``link`` (in the folder whose real path is ``parent_real``)
    is not followed; None when it is."""
    target = os.path.realpath(link)
    if linked:
        return "a link inside a linked folder (links are followed once); left out"
    if target != base and not target.startswith(base + os.sep):
        return ("a link that leads outside the dataset folder; left out (copy the images "
                "into the dataset instead)")
    if os.path.isdir(target) and (parent_real == target
                                  or parent_real.startswith(target.rstrip(os.sep) + os.sep)):
        return ("a link back up the tree (a loop), which would list the same images again; "
                "left out")
    return None


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
