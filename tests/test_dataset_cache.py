"""The preprocessing cache: same pixels as prepare_image, reuse, invalidation,
interruption and resumption, bad files."""

from __future__ import annotations

import errno
import os
import threading

import numpy as np
import pytest
from PIL import Image

from allgui.core.dataset import cache as cache_module
from allgui.core.dataset.cache import ImageCache
from allgui.core.dataset.hashing import file_hash
from allgui.core.dataset.imaging import prepare_image
from allgui.core.errors import Cancelled
from allgui.core.events import EventLog, Progress
from allgui.core.plain_errors import plain_message


def write_cells(folder, n, size=20, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for k in range(n):
        path = folder / f"cell{k:03d}.png"
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def test_entries_match_prepare_image_and_are_reused(tmp_path):
    paths = write_cells(tmp_path / "d", 5)
    cache = ImageCache(tmp_path / "cache", 12, workers=1)
    got = cache.images_for(paths)
    assert got.images.shape == (5, 12, 12, 3) and got.images.dtype == np.uint8
    for row, path in enumerate(paths):
        np.testing.assert_array_equal(got.images[row], prepare_image(path, 12))
    assert (got.build.decoded, got.build.reused) == (5, 0)
    again = cache.images_for(paths)
    assert (again.build.decoded, again.build.reused) == (0, 5)
    np.testing.assert_array_equal(again.images, got.images)


def test_changed_file_or_size_is_decoded_again(tmp_path):
    paths = write_cells(tmp_path / "d", 4)
    cache = ImageCache(tmp_path / "cache", 10, workers=1)
    before = cache.images_for(paths).images
    Image.new("RGB", (20, 20), (200, 10, 10)).save(paths[2])
    after = cache.images_for(paths)
    assert (after.build.decoded, after.build.reused) == (1, 3)
    assert (after.images[2] == (200, 10, 10)).all()
    np.testing.assert_array_equal(after.images[[0, 1, 3]], before[[0, 1, 3]])
    bigger = ImageCache(tmp_path / "cache", 16, workers=1).images_for(paths)
    assert bigger.build.decoded == 4 and bigger.images.shape[1:] == (16, 16, 3)


@pytest.mark.parametrize("workers", [1, 2])
def test_interrupted_build_resumes_where_it_stopped(tmp_path, workers):
    # Worker processes start from 64 images and keep 3 chunks of 32 each in
    # flight, which finish after Stop: enough images that most are never begun.
    n = 40 if workers == 1 else 480
    paths = write_cells(tmp_path / "d", n, size=8)
    stop = threading.Event()

    def sink(event):
        if isinstance(event, Progress) and event.done > 0:
            stop.set()  # the user presses Stop after the first chunk

    cache = ImageCache(tmp_path / "cache", 8, workers=workers)
    with pytest.raises(Cancelled):
        cache.build(paths, sink=sink, cancel=stop)
    done_before = sum(1 for _ in cache.folder.rglob("*.u8"))
    assert 0 < done_before < n
    # A half-written entry (as after a crash) must be redone, not trusted.
    victim = next(cache.folder.rglob("*.u8"))
    victim.write_bytes(victim.read_bytes()[:10])
    resumed = cache.build(paths)
    assert resumed.decoded == n - done_before + 1
    assert resumed.reused == done_before - 1
    assert not list(cache.folder.rglob("*.tmp"))


def test_bad_files_are_reported_not_fatal(tmp_path):
    paths = write_cells(tmp_path / "d", 3)
    (tmp_path / "d" / "empty.png").write_bytes(b"")
    (tmp_path / "d" / "fake.png").write_text("not a picture")
    paths += [str(tmp_path / "d" / "empty.png"), str(tmp_path / "d" / "fake.png")]
    got = ImageCache(tmp_path / "cache", 8, workers=1).images_for(paths)
    assert got.kept == (0, 1, 2) and len(got.images) == 3
    reasons = {b.path.rsplit("/", 1)[-1]: b.reason for b in got.bad_files}
    assert "empty" in reasons["empty.png"] and "not an image" in reasons["fake.png"]


def test_parallel_build_gives_the_same_pixels(tmp_path):
    paths = write_cells(tmp_path / "d", 70, size=10)
    log = EventLog()
    parallel = ImageCache(tmp_path / "c2", 8, workers=2).images_for(paths, sink=log)
    serial = ImageCache(tmp_path / "c1", 8, workers=1).images_for(paths)
    np.testing.assert_array_equal(parallel.images, serial.images)
    assert log.of_type(Progress)[-1].done == 70


def test_replaced_content_with_the_same_size_and_date_is_decoded_again(tmp_path):
    # Same size, same modification time, other pixels: only the content tells.
    a, b = tmp_path / "a.bmp", tmp_path / "b.bmp"
    Image.new("RGB", (20, 20), (250, 0, 0)).save(a)
    Image.new("RGB", (20, 20), (0, 0, 250)).save(b)
    cache = ImageCache(tmp_path / "cache", 10, workers=1)
    first = cache.images_for([str(a), str(b)])
    assert first.build.hashes[str(a)] != first.build.hashes[str(b)]
    st = a.stat()
    a.write_bytes(b.read_bytes())
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))  # touch -r
    assert (a.stat().st_size, a.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    again = cache.images_for([str(a), str(b)])
    assert (again.images[0] == (0, 0, 250)).all()
    # The duplicate check works from these hashes: the copy is now one image.
    assert again.build.hashes[str(a)] == again.build.hashes[str(b)] == file_hash(b)


def test_a_full_disk_stops_the_build_keeping_what_was_written(tmp_path, monkeypatch):
    paths = write_cells(tmp_path / "d", 5)
    real_write = cache_module._write_entry
    written = []

    def disk_fills_after_two(target, payload):
        if len(written) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "cache"))
        real_write(target, payload)
        written.append(target)

    monkeypatch.setattr(cache_module, "_write_entry", disk_fills_after_two, raising=False)
    cache = ImageCache(tmp_path / "cache", 8, workers=1)
    with pytest.raises(OSError) as caught:
        cache.build(paths)
    assert caught.value.errno == errno.ENOSPC
    message, _ = plain_message(caught.value)
    assert message.startswith("The disk is full") and "decoded" not in message
    assert sorted(str(p) for p in cache.folder.rglob("*.u8")) == sorted(written)
    assert not list(cache.folder.rglob("*.tmp"))
    monkeypatch.setattr(cache_module, "_write_entry", real_write)
    resumed = cache.build(paths)  # space freed: carries on, nothing dropped
    assert (resumed.decoded, resumed.reused, resumed.bad_files) == (3, 2, ())

