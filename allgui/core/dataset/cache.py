"""The preprocessing cache: every image decoded and resized once.

An entry is the image after :func:`allgui.core.dataset.imaging.prepare_image` (area
interpolation to ``size`` x ``size``), stored as raw uint8 RGB bytes under

    <cache_dir>/images/v<PREP_VERSION>-<size>px/<hash[:2]>/<content hash>.u8

so it is keyed by the file's content, the size and the preprocessing
version: an edited file, another size or a change to the preprocessing finds
no entry and is decoded again. Entries are written to a temporary file and
renamed into place, so an interrupted build leaves only whole entries and
the next build carries on where it stopped. A small table of (size, mtime)
-> content hash saves re-reading unchanged files on later runs.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from allgui.core.dataset.hashing import file_hash
from allgui.core.dataset.imaging import prepare_image
from allgui.core.dataset.parallel import map_items
from allgui.core.dataset.records import BadFile, ImageRecord
from allgui.core.errors import Cancelled, ImageReadError
from allgui.core.events import JobHandle, Sink, job, null_sink
from allgui.core.files.atomic import atomic_write_text

# Bump whenever prepare_image changes what it returns: old entries are then ignored.
PREP_VERSION = 1
JOB = "cache"
_HASH_TABLE = "file-hashes.json"


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


def _prepare_one(item: tuple[str, str], size: int, folder: str) -> tuple[str, str, str]:
    """Worker: hash (unless known), decode and store one image.

    Returns (path, content hash, outcome) where outcome is 'decoded',
    'reused' or the reason the file is bad."""
    path, digest = item
    nbytes = size * size * 3
    if not digest:
        try:
            digest = file_hash(path)
        except OSError as exc:
            return path, "", f"cannot open the file ({exc.strerror or exc})"
    target = _entry(folder, digest)
    if _entry_ok(target, nbytes):
        return path, digest, "reused"
    try:
        pixels = prepare_image(path, size)
    except ImageReadError as exc:
        return path, digest, exc.reason
    except MemoryError:
        return path, digest, "not enough memory to decode this image"
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return path, digest, f"cannot write the cache ({exc.strerror or exc})"
    return path, digest, "decoded"


class ImageCache:
    """Decoded, resized images of one size under ``cache_dir``."""

    def __init__(self, cache_dir: str | Path, size: int, workers: int | None = None) -> None:
        if size < 8:
            raise ValueError("image size must be at least 8 pixels")
        self.cache_dir = Path(cache_dir)
        self.size = int(size)
        self.workers = workers
        self.folder = self.cache_dir / "images" / f"v{PREP_VERSION}-{self.size}px"

    @property
    def _table_path(self) -> Path:
        return self.cache_dir / "images" / _HASH_TABLE

    def _read_table(self) -> dict[str, list]:
        try:
            data = json.loads(self._table_path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}  # missing or damaged: files are simply hashed again

    def _known_hash(self, table: dict[str, list], path: str) -> str:
        """The remembered hash of ``path`` if the file is unchanged, else ''."""
        entry = table.get(path)
        if not entry:
            return ""
        try:
            st = os.stat(path)
        except OSError:
            return ""
        if entry[0] == st.st_size and entry[1] == st.st_mtime_ns:
            return str(entry[2])
        return ""

    def entry_path(self, content_hash: str) -> Path:
        return Path(_entry(str(self.folder), content_hash))

    def build(
        self,
        paths: Sequence[str],
        sink: Sink = null_sink,
        cancel: threading.Event | None = None,
    ) -> CacheBuild:
        """Make sure every image in ``paths`` has an entry. Bad files are
        reported, not fatal. Raises Cancelled (finished entries are kept)."""
        unique = list(dict.fromkeys(str(p) for p in paths))
        nbytes = self.size * self.size * 3
        table = self._read_table()
        hashes: dict[str, str] = {}
        todo: list[tuple[str, str]] = []
        for path in unique:
            digest = self._known_hash(table, path)
            if digest and _entry_ok(_entry(str(self.folder), digest), nbytes):
                hashes[path] = digest
            else:
                todo.append((path, digest))
        reused = len(hashes)
        description = f"Preparing {len(todo)} of {len(unique)} images at {self.size} px"
        with job(sink, JOB, description, len(todo)) as j:
            decoded, reused, bad = self._build(todo, table, hashes, reused, sink, cancel, j)
            j.finish(f"{decoded} images prepared, {reused} already in the cache")
        return CacheBuild(decoded, reused, tuple(bad), hashes)

    def _build(self, todo: list[tuple[str, str]], table: dict, hashes: dict[str, str],
               reused: int, sink: Sink, cancel: threading.Event | None,
               j: JobHandle) -> tuple[int, int, list[BadFile]]:
        """Decode ``todo`` into the cache; (decoded, reused, bad files)."""
        bad: list[BadFile] = []
        decoded = 0
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
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
        except Cancelled:
            j.finish("Stopped; prepared images kept")
            raise
        for path, digest, outcome in results:
            if outcome == "decoded":
                decoded += 1
            elif outcome == "reused":
                reused += 1
            else:
                bad.append(BadFile(path, outcome))
                continue
            hashes[path] = digest
            try:
                st = os.stat(path)
                table[path] = [st.st_size, st.st_mtime_ns, digest]
            except OSError:
                pass
        if results:
            try:
                atomic_write_text(self._table_path, json.dumps(table))
            except OSError:
                pass  # only a speed-up for the next run
        return decoded, reused, bad

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
