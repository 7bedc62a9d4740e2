"""Classifying single images: every kind of picture a user may hand over,
the decision and uncertainty rules, and the heatmap drawing."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from allgui.core.errors import AllguiError, ImageReadError
from allgui.core.infer import Classifier
from allgui.core.infer.classifier import upsample_heatmap
from allgui.core.infer.heatmap import heatmap_figure, overlay, save_heatmap_png, turbo


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, tiny_models):
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    tiny_models.export(path, uncertain_margin=0.25)
    return path


@pytest.fixture(scope="module")
def clf(model_path):
    return Classifier(model_path, device="cpu")


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels (the data is tiny)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


def test_prediction_fields(clf, cnmc_samples, tiny_models):
    path = sorted(cnmc_samples.rglob("*.bmp"))[0]
    p = clf.classify(path)
    assert p.source == str(path) and p.label in tiny_models.classes
    assert p.class_index == tiny_models.classes.index(p.label)
    assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    probs = sorted(p.probabilities.values(), reverse=True)
    assert p.margin == pytest.approx(probs[0] - probs[1])
    assert p.uncertain == (p.margin < 0.25)
    assert p.probability == p.probabilities[p.label]
    assert p.heatmap.shape == (450, 450) and p.heatmap.dtype == np.float32
    assert p.heatmap.min() >= 0.0 and p.heatmap.max() == pytest.approx(1.0)
    assert clf.classify(path, heatmap=False).heatmap is None


def test_uncertainty_threshold_can_be_overridden(model_path, cnmc_samples):
    files = sorted(cnmc_samples.rglob("*.bmp"))
    assert all(p.uncertain for p in Classifier(model_path, uncertain_margin=1.01).classify_many(files))
    assert not any(p.uncertain for p in Classifier(model_path, uncertain_margin=0.0).classify_many(files))


def test_decision_threshold_from_the_model(tmp_path, cnmc_samples, tiny_models):
    files = sorted(cnmc_samples.rglob("*.bmp"))
    always = Classifier(tiny_models.export(tmp_path / "low.onnx", decision_threshold=1e-9)[1].path)
    never = Classifier(tiny_models.export(tmp_path / "high.onnx",
                                          decision_threshold=1 - 1e-9)[1].path)
    assert {p.label for p in always.classify_many(files, heatmap=False)} == {"all"}
    assert {p.label for p in never.classify_many(files, heatmap=False)} == {"hem"}
    # the heatmap follows the class that was given, not the most probable one
    p = never.classify(files[0])
    assert p.label == "hem" and p.heatmap is not None


def test_grayscale_rgba_and_odd_sizes(clf, tmp_path, tiny_models):
    rng = np.random.default_rng(1)
    gray = tmp_path / "gray.png"
    Image.fromarray(rng.integers(0, 255, (120, 80), dtype=np.uint8), "L").save(gray)
    rgba = tmp_path / "rgba.png"
    Image.fromarray(rng.integers(0, 255, (60, 90, 4), dtype=np.uint8), "RGBA").save(rgba)
    assert clf.classify(gray).heatmap.shape == (120, 80)
    assert clf.classify(rgba).heatmap.shape == (60, 90)
    # the same pixels in memory give the same answer as from the file
    from_file = clf.classify(gray, heatmap=False).probabilities
    in_memory = clf.classify(np.asarray(Image.open(gray)), heatmap=False).probabilities
    assert from_file == pytest.approx(in_memory, abs=1e-6)
    assert clf.classify(Image.open(rgba)).label in tiny_models.classes
    # a list is classified in one go and gives one prediction per image
    both = clf.classify([gray, Image.open(rgba)])
    assert [p.heatmap.shape for p in both] == [(120, 80), (60, 90)]
    assert both[0].probabilities == pytest.approx(from_file, abs=1e-6)


def test_images_in_memory_are_prepared_as_their_files(clf, tmp_path):
    """A 16-bit PNG and an EXIF-rotated picture give the same pixels by path,
    as a Pillow image and (16-bit) as an array."""
    ramp = (np.arange(60 * 40, dtype=np.uint32).reshape(60, 40) * 27).astype(np.uint16)
    deep = tmp_path / "deep.png"
    Image.fromarray(ramp).save(deep)
    assert Image.open(deep).mode == "I;16"
    by_path = clf.prepare(deep)
    as_pil = clf.prepare(Image.open(deep))
    as_array = clf.prepare(np.asarray(Image.open(deep)))
    assert by_path.original.mean() > 60  # scaled to 0..255, not clipped to white
    for other in (as_pil, as_array):
        np.testing.assert_array_equal(other.original, by_path.original)
        np.testing.assert_array_equal(other.pixels, by_path.pixels)
    assert clf.classify(deep, heatmap=False).probabilities == pytest.approx(
        clf.classify(Image.open(deep), heatmap=False).probabilities, abs=1e-6)

    rng = np.random.default_rng(3)
    turned = tmp_path / "turned.png"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees to show upright
    Image.fromarray(rng.integers(0, 255, (30, 50, 3), dtype=np.uint8)).save(turned, exif=exif)
    upright = clf.prepare(turned)
    assert upright.original.shape == (50, 30, 3)
    np.testing.assert_array_equal(clf.prepare(Image.open(turned)).original, upright.original)


def test_bad_image_files(clf, tmp_path, cnmc_samples):
    text = tmp_path / "notes.bmp"
    text.write_text("not a picture")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.bmp"
    truncated.write_bytes(sorted(cnmc_samples.rglob("*.bmp"))[0].read_bytes()[:4000])
    huge = tmp_path / "huge.png"
    huge.write_bytes(_png_claiming(30_000, 30_000))
    expected = {
        text: "not an image",
        empty: "empty file",
        truncated: "truncated or corrupt",
        huge: "too large",
        tmp_path / "missing.bmp": "cannot open",
    }
    for path, reason in expected.items():
        with pytest.raises(ImageReadError, match=reason) as err:
            clf.classify(path)
        assert str(path) in err.value.message


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((10, 10, 3), np.float32), "float32"),
        (np.zeros((10, 10, 2), np.uint8), "shape"),
    ],
)
def test_bad_arrays(clf, array, message):
    with pytest.raises(AllguiError, match=message):
        clf.classify(array)
    with pytest.raises(AllguiError, match="Cannot classify a dict"):
        clf.classify({"image": array})  # type: ignore[arg-type]


def test_upsample_heatmap():
    cam = np.array([[0.0, 2.0], [4.0, 8.0]], np.float32)
    up = upsample_heatmap(cam, (30, 20))
    assert up.shape == (30, 20)
    assert up.min() >= 0 and up.max() <= 1
    assert up[-1, -1] > up[0, -1] > up[0, 0]  # the strongest corner stays strongest
    assert not upsample_heatmap(np.zeros((3, 3)), (5, 5)).any()


def test_turbo_and_overlay(tmp_path):
    ends = turbo(np.array([0.0, 0.5, 1.0]))
    assert ends.shape == (3, 3) and ends.dtype == np.uint8
    assert int(ends[0].sum()) < 100  # cold end is dark
    assert turbo(np.array(0.1))[2] > 200  # then blue
    assert ends[2, 0] > ends[2, 2]  # hot end is red
    assert ends[1, 1] > 150  # the middle is green-yellow
    image = np.full((8, 6, 3), 100, np.uint8)
    assert np.array_equal(overlay(image, np.zeros((8, 6))), image)  # no heat: untouched
    hot = overlay(image, np.ones((8, 6)))
    assert not np.array_equal(hot, image)
    with pytest.raises(ValueError):
        overlay(image, np.zeros((3, 3)))
    fig = heatmap_figure(image, np.ones((8, 6)))
    assert fig.shape[1] == 2 * 6 + 2 and fig.shape[0] > 8
    out = tmp_path / "sub" / "h.png"
    save_heatmap_png(out, image, np.ones((8, 6)))
    assert Image.open(out).size == (fig.shape[1], fig.shape[0])


def test_32_bit_and_float_tiffs_are_scaled_not_clipped(clf, tmp_path):
    """Issue 13 case 17: a 32-bit TIFF (mode I, values far above 16 bits) and a
    float TIFF keep their contrast instead of turning white."""
    ramp = np.linspace(0, 2_000_000_000, 64 * 48).reshape(64, 48)
    deep = tmp_path / "deep32.tif"
    Image.fromarray(ramp.astype(np.int32)).save(deep)
    floats = tmp_path / "float.tif"
    Image.fromarray((ramp / 1e4).astype(np.float32)).save(floats)
    for path, mode in ((deep, "I"), (floats, "F")):
        assert Image.open(path).mode == mode
        pixels = clf.prepare(path).original
        assert 100 < pixels.mean() < 155, (mode, pixels.mean())  # a ramp: mid-grey on average
        assert pixels.min() < 10 and pixels.max() > 245


def test_large_images_are_kept_and_drawn_at_a_bounded_size(clf, tmp_path):
    """Issue 13 case 25: what is kept per image for its heatmap is at most
    VIEW_SIDE pixels a side, whatever the image's size."""
    from allgui.core.infer.classifier import VIEW_SIDE
    from allgui.core.infer.folder import classify_files

    big = tmp_path / "big.png"
    Image.new("RGB", (3000, 2000), (120, 60, 90)).save(big)
    prepared = clf.prepare(big)
    assert prepared.original.shape == (683, VIEW_SIDE, 3)
    assert clf.classify(big).heatmap.shape == (683, VIEW_SIDE)
    result = classify_files(clf, [big], heatmaps_dir=tmp_path / "heat")
    with Image.open(result.rows[0].heatmap_path) as figure:
        assert figure.width <= 2 * VIEW_SIDE + 20 and figure.height <= 800
