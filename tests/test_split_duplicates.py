"""Identical images (same bytes, other names) always land in one part, in
every split method, and the audit then finds none."""

from __future__ import annotations

import pytest

from allgui.core.dataset.records import DatasetIndex, ImageRecord
from allgui.core.dataset.splits import METHODS, audit, content_hashes, make_split
from allgui.core.project import SplitSettings


def _tree(tmp_path, official: bool) -> DatasetIndex:
    """60 images in two classes and three folds, 3 patients a fold and class;
    every 5th image has a copy under another name, in another fold and
    patient, and one copy of an official test image sits in training."""
    records = []
    n = 0
    for label in ("all", "hem"):
        for k in range(30):
            fold = f"fold_{k % 3}"
            body = f"{label}-{k}".encode()
            path = tmp_path / label / f"{k}.bmp"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
            records.append(ImageRecord(str(path), label, f"{label}{k % 9}", fold))
            if k % 5 == 0:  # a copy, elsewhere
                copy = tmp_path / label / f"copy_{k}.bmp"
                copy.write_bytes(body)
                records.append(ImageRecord(str(copy), label, f"{label}{(k + 4) % 9}",
                                           f"fold_{(k + 1) % 3}"))
            n += 1
    if official:
        for k in range(6):
            label = ("all", "hem")[k % 2]
            path = tmp_path / "test" / f"{k}.bmp"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f"test-{k}".encode())
            records.append(ImageRecord(str(path), label, f"T{k}", subset="test"))
        leaked = tmp_path / "all" / "from_test.bmp"
        leaked.write_bytes(b"test-0")
        records.append(ImageRecord(str(leaked), "all", "all1", "fold_0"))
    return DatasetIndex(str(tmp_path), "class-folders", ("all", "hem"), tuple(records))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("official", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_identical_images_stay_in_one_part(tmp_path, method, official, seed):
    if method == "cnmc-folds" and not official:
        settings = SplitSettings(method=method, seed=seed)
    else:
        settings = SplitSettings(method=method, seed=seed, val_fraction=0.2, test_fraction=0.2)
    index = _tree(tmp_path, official)
    hashes = content_hashes(index)
    split = make_split(index, settings, hashes)
    part_of = {}
    for name in ("train", "val", "test"):
        for i in split.part(name):
            h = hashes[index.records[i].path]
            assert part_of.setdefault(h, name) == name, (method, index.records[i].path)
    found = audit(index, split, hashes)
    assert all(not o.identical for o in found.overlaps), found.verdict()
    if official:
        assert any("copies of images in the test set" in w for w in split.warnings)
    # hashing inside make_split gives the same split as handing the hashes over
    assert make_split(index, settings) == split


def test_without_copies_the_split_is_as_before(tmp_path):
    """Patient groups keep their names, so a dataset without copies splits as it did."""
    index = _tree(tmp_path, False)
    unique = DatasetIndex(index.root, index.layout, index.classes,
                          tuple(r for r in index.records if "copy_" not in r.path))
    settings = SplitSettings(seed=3, val_fraction=0.2, test_fraction=0.2)
    assert make_split(unique, settings, {}) == make_split(unique, settings)
