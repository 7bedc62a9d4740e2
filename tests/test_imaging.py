"""Reading any image a user may have: odd ones become RGB, bad ones say why."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from allgui.core.dataset.imaging import is_image_name, prepare_image, read_rgb
from allgui.core.errors import ImageReadError


@pytest.fixture(scope="module")
def odd_files(tmp_path_factory, write_odd_files):
    folder = tmp_path_factory.mktemp("odd")
    return folder, write_odd_files(folder)


def test_odd_but_valid_images_become_8bit_rgb(odd_files):
    folder, kinds = odd_files
    for name, kind in kinds.items():
        if kind != "ok":
            continue
        img = read_rgb(folder / name)
        assert img.mode == "RGB", name
        arr = prepare_image(folder / name, 16)
        assert arr.shape == (16, 16, 3) and arr.dtype == np.uint8, name


@pytest.mark.parametrize(
    "name, words",
    [
        ("zero.bmp", "empty file"),
        ("truncated.png", "truncated"),
        ("notes.jpg", "not an image"),
        ("bomb.png", "too large"),
    ],
)
def test_bad_files_raise_with_a_reason(odd_files, name, words):
    folder, _ = odd_files
    with pytest.raises(ImageReadError) as info:
        read_rgb(folder / name)
    assert words in info.value.reason
    assert info.value.path.endswith(name)


def test_missing_file_is_a_read_error(tmp_path):
    with pytest.raises(ImageReadError, match="cannot open"):
        read_rgb(tmp_path / "nowhere.bmp")


def test_exif_rotation_is_applied(odd_files):
    folder, _ = odd_files
    with Image.open(folder / "rotated.jpg") as raw:
        assert raw.size == (30, 20)
    assert read_rgb(folder / "rotated.jpg").size == (20, 30)


def test_rgba_transparency_goes_onto_black(tmp_path):
    img = Image.new("RGBA", (4, 4), (255, 255, 255, 0))
    img.save(tmp_path / "clear.png")
    assert np.asarray(read_rgb(tmp_path / "clear.png")).max() == 0


def test_16bit_keeps_its_range(odd_files):
    folder, _ = odd_files
    arr = np.asarray(read_rgb(folder / "deep16.png"))
    assert arr.max() > 200 and arr.min() < 50


def test_real_cnmc_bmp_is_read_and_area_resized(cnmc_samples):
    path = next((cnmc_samples / "all").glob("*.bmp"))
    img = read_rgb(path)
    assert img.size == (450, 450)
    small = prepare_image(path, 225)
    full = np.asarray(img, dtype=np.float64)
    # Area interpolation by 2 is the mean of each 2x2 block.
    block_mean = full[:450, :450].reshape(225, 2, 225, 2, 3).mean(axis=(1, 3))
    assert np.abs(small.astype(np.float64) - block_mean).max() <= 1.0


def test_image_names_are_case_insensitive():
    assert is_image_name("a.Jpg") and is_image_name("b.BMP") and is_image_name("c.tif")
    assert not is_image_name("labels.csv")


def test_damaged_files_of_every_format_never_crash(tmp_path):
    """Bytes flipped and files cut at random: each file is an image or a reason."""
    import io
    import random

    from allgui.core.dataset.discover import header_problem

    rng = random.Random(0)
    pixels = np.random.default_rng(0).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    bases = {}
    for fmt in ("BMP", "PNG", "JPEG", "TIFF", "GIF", "WEBP"):
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format=fmt)
        bases[fmt] = buf.getvalue()
    for n in range(600):  # 600 reaches a TIFF that raises TypeError inside Pillow
        fmt = rng.choice(sorted(bases))
        data = bytearray(bases[fmt])
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data))]
        path = tmp_path / f"f{n}.{fmt.lower()}"
        path.write_bytes(bytes(data))
        problem = header_problem(path)
        assert problem is None or isinstance(problem, str)
        try:
            assert read_rgb(path).mode == "RGB"
        except ImageReadError as exc:
            assert exc.reason


def test_allgui_pixel_limit_is_the_one_that_applies(tmp_path):
    from allgui.core.dataset.discover import header_problem
    from allgui.core.dataset.imaging import MAX_PIXELS

    from support.badfiles import bomb_png

    tile = tmp_path / "tile.png"  # 10,000 x 10,000: over Pillow's default, under allgui's
    tile.write_bytes(bomb_png(10_000, 10_000))
    assert 10_000 * 10_000 < MAX_PIXELS
    assert header_problem(tile) is None
    with pytest.raises(ImageReadError) as info:
        read_rgb(tile)  # its pixel data is a stub: refused as damaged, not as too large
    assert "too large" not in info.value.reason
    for w, h in ((25_000, 20_000), (100_000, 100_000)):  # under and over twice the limit
        huge = tmp_path / f"huge{w}.png"
        huge.write_bytes(bomb_png(w, h))
        with pytest.raises(ImageReadError) as info:
            read_rgb(huge)
        assert info.value.reason == header_problem(huge)
        assert "too large" in info.value.reason and "400,000,000" in info.value.reason
        assert "bomb" not in info.value.reason
