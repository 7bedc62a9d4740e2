"""Memory bounded by pixels, not by encoding (issue 25, case 13): a 16-bit
image is made 8-bit without a float copy of the whole of it, so it decodes
within the budget of an 8-bit image of the same size (its RGB result)."""

from __future__ import annotations

import tracemalloc

import numpy as np
from PIL import Image

from allgui.core.dataset.imaging import read_rgb


def _peak_bytes(path) -> tuple[int, Image.Image]:
    tracemalloc.start()
    try:
        img = read_rgb(path)
        return tracemalloc.get_traced_memory()[1], img
    finally:
        tracemalloc.stop()


def test_a_16_bit_png_decodes_within_the_8_bit_budget(tmp_path):
    side = 3000  # 9 million pixels: small on disk (mostly one value), large decoded
    deep = np.zeros((side, side), np.uint16)
    deep[100:300, 200:500] = 40000
    deep[2000:, :50] = 65535
    path16 = tmp_path / "deep.png"
    Image.fromarray(deep).save(path16)
    assert Image.open(path16).mode.startswith("I;16")
    peak, img = _peak_bytes(path16)
    pixels = side * side
    assert peak <= 3 * pixels  # what the 8-bit RGB result takes; a float64 copy took 24 / px
    arr = np.asarray(img)
    assert arr.shape == (side, side, 3)
    assert arr[150, 300, 0] == round(40000 / 65535 * 255) and arr[2500, 10, 0] == 255
    assert arr[0, 0, 0] == 0


def test_float_and_32_bit_images_keep_their_scaling(tmp_path):
    ramp = np.linspace(0, 1, 64 * 40, dtype=np.float32).reshape(40, 64)
    ramp[0, 0] = np.nan
    Image.fromarray(ramp, "F").save(tmp_path / "f.tif")
    arr = np.asarray(read_rgb(tmp_path / "f.tif"))
    assert arr[0, 0, 0] == 0 and arr[-1, -1, 0] == 255
    wide = (np.arange(40 * 64, dtype=np.int32).reshape(40, 64) * 1000) - 5000
    Image.fromarray(wide, "I").save(tmp_path / "i.tif")
    arr = np.asarray(read_rgb(tmp_path / "i.tif"))
    assert arr[0, 0, 0] == 0 and arr[-1, -1, 0] == 255
