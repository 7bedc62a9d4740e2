"""Issue 28 item 5: the same field saved twice (not byte-identical) is kept on
one side of a split and found by the leakage audit; a class that comes from
another source (size, stain) is named."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from allgui.core.dataset.near_duplicates import fingerprints_of, near_groups
from allgui.core.dataset.records import DatasetIndex, ImageRecord
from allgui.core.dataset.sources import colour_stats, original_size, source_warnings
from allgui.core.dataset.splits import SplitSettings, audit, make_split


def _field(rng, side=96):
    """A smear-like field: a few cells of random size and place on a pale background."""
    yy, xx = np.mgrid[:side, :side]
    img = np.full((side, side, 3), 220, np.float32) + rng.normal(0, 6, (side, side, 3))
    for _ in range(rng.integers(2, 5)):
        r = rng.integers(8, 20)
        cy, cx = rng.integers(r, side - r, 2)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.integers(60, 190, 3)
    return img.clip(0, 255).astype(np.uint8)


def _variant(img: np.ndarray, k: int) -> np.ndarray:
    """The same field saved again: JPEG, a little brighter, or resized."""
    pil = Image.fromarray(img)
    if k == 0:
        buf = io.BytesIO()
        pil.save(buf, "JPEG", quality=80)
        return np.asarray(Image.open(buf).convert("RGB"))
    if k == 1:
        return np.clip(img.astype(np.int16) + 6, 0, 255).astype(np.uint8)
    return np.asarray(pil.resize((88, 88), Image.Resampling.BILINEAR))


def _dataset(tmp_path):
    rng = np.random.default_rng(0)
    records, arrays, pairs = [], {}, []
    for label in ("all", "hem"):
        (tmp_path / label).mkdir()
        for i in range(14):
            img = _field(rng)
            path = str(tmp_path / label / f"f{i}.png")
            Image.fromarray(img).save(path)
            records.append(ImageRecord(path, label))
            arrays[path] = img
            if i < 4:  # four fields of each class saved a second time
                again = _variant(img, i % 3)
                copy = str(tmp_path / label / f"f{i}-again.png")
                Image.fromarray(again).save(copy)
                records.append(ImageRecord(copy, label))
                arrays[copy] = again
                pairs.append((path, copy))
    index = DatasetIndex(str(tmp_path), "class-folders", ("all", "hem"), tuple(records))
    return index, arrays, pairs


def _near(index, arrays):
    paths = [r.path for r in index.records]
    return near_groups(paths, fingerprints_of(np.stack(
        [np.asarray(Image.fromarray(arrays[p]).resize((64, 64))) for p in paths])))


def test_near_duplicates_are_grouped_and_kept_on_one_side(tmp_path):
    index, arrays, pairs = _dataset(tmp_path)
    near = _near(index, arrays)
    for a, b in pairs:
        assert near.get(a) is not None and near.get(a) == near.get(b)
    assert len(near) == 2 * len(pairs)  # no distinct field joins a group
    straddled_before = 0
    for seed in range(6):
        settings = SplitSettings(method="image", seed=seed, val_fraction=0.25,
                                 test_fraction=0.25)
        part = {}
        split = make_split(index, settings, {}, near)
        for name in ("train", "val", "test"):
            for i in split.part(name):
                part[index.records[i].path] = name
        assert all(part[a] == part[b] for a, b in pairs)
        assert audit(index, split, {}, check_content=False, near=near).leaky is False
        # the same split made without them lets pairs straddle, and the audit says so
        old = make_split(index, settings, {})
        found = audit(index, old, {}, check_content=False, near=near)
        straddled_before += sum(len(o.similar) for o in found.overlaps)
        if any(o.similar for o in found.overlaps):
            assert "near-duplicate image" in found.verdict()
    assert straddled_before > 0


def test_distinct_cells_on_a_plain_background_are_not_near_duplicates():
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:64, :64]
    images = []
    for _ in range(60):  # one cell in the middle of each image, as in ALL-IDB2 crops
        img = np.full((64, 64, 3), 225.0)
        a, b = rng.integers(14, 22, 2)
        img[((yy - 32) / a) ** 2 + ((xx - 32) / b) ** 2 < 1] = rng.integers(150, 200, 3)
        ny, nx = rng.integers(26, 38, 2)  # the nucleus, somewhere inside
        r = rng.integers(7, 12)
        img[(yy - ny) ** 2 + (xx - nx) ** 2 < r * r] = rng.integers(60, 130, 3)
        images.append((img + rng.normal(0, 8, img.shape)).clip(0, 255).astype(np.uint8))
    assert near_groups([f"c{i}" for i in range(60)], fingerprints_of(np.stack(images))) == {}


def test_a_class_from_another_source_is_named(tmp_path):
    rng = np.random.default_rng(1)
    paths, labels, images = [], [], []
    for c, (label, side, tint) in enumerate((("all", 96, 0), ("hem", 96, 0), ("pro", 128, 40))):
        for i in range(12):
            img = _field(rng, side)
            img = np.clip(img.astype(np.int16) + np.array([tint, -tint, tint]), 0, 255
                          ).astype(np.uint8)
            path = str(tmp_path / f"{label}{i}.png")
            Image.fromarray(img).save(path)
            paths.append(path)
            labels.append(c)
            images.append(np.asarray(Image.fromarray(img).resize((64, 64))))
    stats = colour_stats(np.stack(images))
    sizes = [original_size(p) for p in paths]
    warnings = source_warnings(("all", "hem", "pro"), np.array(labels), stats, sizes)
    assert len(warnings) == 1 and "'pro'" in warnings[0] and "128 x 128" in warnings[0]
    assert "separates it" in warnings[0]
    same = source_warnings(("all", "hem"), np.array(labels[:24]), stats[:24], sizes[:24])
    assert same == ()


def test_the_dataset_summary_finds_them_for_every_split_it_shows(tmp_path):
    """The Dataset tab, 'allgui new' and 'allgui data' split from the summary:
    it reads every image once and groups near-duplicates there too."""
    from allgui.core.dataset.discover import discover
    from allgui.core.dataset.summary import summarize

    index, _, pairs = _dataset(tmp_path)
    summary = summarize(discover(tmp_path), workers=1)
    assert summary.near is not None
    for a, b in pairs:
        assert summary.near[a] == summary.near[b]
    assert summarize(discover(tmp_path), inspect=False).near is None


def test_images_that_all_look_alike_are_not_one_huge_group():
    """Blank or tiny images all match each other; grouping them would merge
    whole patients, so a 'group' far beyond a few re-saves is left alone."""
    rng = np.random.default_rng(2)
    ramp = np.linspace(40, 220, 32)[None, :, None] * np.ones((32, 1, 3))
    alike = [(ramp + rng.normal(0, 1, ramp.shape)).astype(np.uint8) for _ in range(40)]
    prints = fingerprints_of(np.stack(alike))
    assert near_groups([f"b{i}" for i in range(3)], prints[:3])  # a few: a real group
    assert near_groups([f"b{i}" for i in range(40)], prints) == {}
