"""The preprocessing cache: every image decoded and resized once.

An entry is the image after :func:`allgui.core.dataset.imaging.prepare_image` (area
interpolation to ``size`` x ``size``), stored as raw uint8 RGB bytes under

    <cache_dir>/images/v<PREP_VERSION>-<size>px/<hash[:2]>/<content hash>.u8

so it is keyed by the file's content, the size and the preprocessing
version: an edited file, another size or a change to the preprocessing finds
no entry and is decoded again. The content is hashed on every build, never
trusted from a file's size and modification time, which a replaced file can
keep; the bytes hashed are the bytes decoded, so this costs one read. Entries
are written to a temporary file and renamed into place, so an interrupted
build leaves only whole entries and the next build carries on where it
stopped. A file that cannot be decoded is a bad file; a cache that cannot be
written (a full disk) stops the build with that error, entries written kept.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from allgui.core.dataset.hashing import read_hashed
from allgui.core.dataset.imaging import prepare_image
from allgui.core.dataset.parallel import map_items
from allgui.core.dataset.records import BadFile, ImageRecord
from allgui.core.errors import Cancelled, ImageReadError
from allgui.core.events import Sink, job, null_sink

# Bump whenever prepare_image changes what it returns: old entries are then ignored.
PREP_VERSION = 1
JOB = "cache"


@dataclass(frozen=True)
class CacheBuild:
    """What one build did."""

    decoded: int  # images decoded now
    reused: int  # images already in the cache
    bad_files: tuple[BadFile, ...]
    hashes: dict[str, str]  # path -> content hash, for every usable file


@dataclass(frozen=True)
class CachedImages:
    """Images for a list of records; bad files have no row."""

    images: np.ndarray  # (len(kept), size, size, 3) uint8
    kept: tuple[int, ...]  # positions in the requested list that have a row
    bad_files: tuple[BadFile, ...]
    build: CacheBuild


def _entry(folder: str, digest: str) -> str:
    return os.path.join(folder, digest[:2], digest + ".u8")


def _entry_ok(path: str, nbytes: int) -> bool:
    try:
        return os.path.getsize(path) == nbytes
    except OSError:
        return False


def _prepare_one(path: str, size: int, folder: str) -> tuple[str, str, str]:
    """Worker: hash, decode and store one image.

    Returns (path, content hash, outcome) where outcome is 'decoded',
    'reused' or the reason the file is bad. Raises OSError when the entry
    cannot be written: that is the disk's problem, not the image's."""
    nbytes = size * size * 3
    try:
        data, digest = read_hashed(path)
    except OSError as exc:
        return path, "", f"cannot open the file ({exc.strerror or exc})"
    target = _entry(folder, digest)
    if _entry_ok(target, nbytes):
        return path, digest, "reused"
    try:
        pixels = prepare_image(path, size, data=data)
    except ImageReadError as exc:
        return path, digest, exc.reason
    except MemoryError:
        return path, digest, "not enough memory to decode this image"
    del data
    _write_entry(target, np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())
    return path, digest, "decoded"


def _write_entry(target: str, payload: bytes) -> None:
    """Write one entry whole or not at all; an OSError names the cache folder.
    Not flushed to disk (unlike files.atomic): an entry a power cut loses is
    only decoded again, and a flush per image would slow the cache down."""
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        where = exc.filename if exc.filename and exc.filename != tmp else os.path.dirname(target)
        raise OSError(exc.errno, exc.strerror or str(exc), where) from None


class ImageCache:
    """Decoded, resized images of one size under ``cache_dir``."""

    def __init__(self, cache_dir: str | Path, size: int, workers: int | None = None) -> None:
        if size < 8:
            raise ValueError("image size must be at least 8 pixels")
        self.cache_dir = Path(cache_dir)
        self.size = int(size)
        self.workers = workers
        self.folder = self.cache_dir / "images" / f"v{PREP_VERSION}-{self.size}px"

    def entry_path(self, content_hash: str) -> Path:
        return Path(_entry(str(self.folder), content_hash))

    def build(
        self,
        paths: Sequence[str],
        sink: Sink = null_sink,
        cancel: threading.Event | None = None,
    ) -> CacheBuild:
        """Make sure every image in ``paths`` has an entry. Bad files are
        reported, not fatal. Raises Cancelled (finished entries are kept),
        OSError when the cache cannot be written (entries written are kept)."""
        unique = list(dict.fromkeys(str(p) for p in paths))
        hashes: dict[str, str] = {}
        todo = unique  # every file is read: its content, not its date, names its entry
        reused = 0
        bad: list[BadFile] = []
        decoded = 0
        with job(sink, JOB, f"Preparing {len(todo)} images at {self.size} px", len(todo)) as j:
            self.folder.mkdir(parents=True, exist_ok=True)
            j.finish("Stopped; prepared images kept")  # what a Stop says
            results = map_items(
                _prepare_one,
                todo,
                (self.size, str(self.folder)),
                job=JOB,
                phase="preparing images",
                sink=sink,
                cancel=cancel,
                workers=self.workers,
            )
            for path, digest, outcome in results:
                if outcome == "decoded":
                    decoded += 1
                elif outcome == "reused":
                    reused += 1
                else:
                    bad.append(BadFile(path, outcome))
                    continue
                hashes[path] = digest
            j.finish(f"{decoded} images prepared, {reused} already in the cache")
        return CacheBuild(decoded, reused, tuple(bad), hashes)

    def load(self, paths: Sequence[str], build: CacheBuild,
             cancel: threading.Event | None = None) -> np.ndarray:
        """An (N, size, size, 3) uint8 array for ``paths``, all of which must
        be usable files of ``build`` (in ``build.hashes``)."""
        images = np.empty((len(paths), self.size, self.size, 3), dtype=np.uint8)
        shape = (self.size, self.size, 3)
        for row, path in enumerate(paths):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            entry = _entry(str(self.folder), build.hashes[path])
            images[row] = np.fromfile(entry, dtype=np.uint8).reshape(shape)
        return images

    def images_for(
        self,
        records: Sequence[ImageRecord | str],
        sink: Sink = null_sink,
        cancel: threading.Event | None = None,
    ) -> CachedImages:
        """An (N, size, size, 3) uint8 array for ``records`` (records or paths),
        building missing entries first. Rows follow ``records``, minus bad files."""
        paths = [r if isinstance(r, str) else r.path for r in records]
        build = self.build(paths, sink, cancel)
        kept = tuple(i for i, p in enumerate(paths) if p in build.hashes)
        images = self.load([paths[i] for i in kept], build, cancel)
        return CachedImages(images, kept, build.bad_files, build)
