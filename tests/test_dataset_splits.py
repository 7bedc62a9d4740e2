"""Split properties on made-up indexes (no files needed) and the leakage audit."""

from __future__ import annotations

import dataclasses
import random

import pytest

from allgui.core.dataset.records import DatasetIndex, ImageRecord
from allgui.core.dataset.split_text import format_split
from allgui.core.dataset.splits import audit, make_split
from allgui.core.errors import DatasetError
from allgui.core.project import SplitSettings


def make_index(
    n_all=30, n_hem=15, seed=0, with_test=False, patients=True, classes=("all", "hem")
) -> DatasetIndex:
    """Patients with varying numbers of images, each patient one class."""
    rng = random.Random(seed)
    records = []
    for label, n_patients in zip(classes, (n_all, n_hem), strict=True):
        for p in range(n_patients):
            pid = f"{'H' if label == 'hem' else ''}{p + 1}"
            for k in range(rng.randint(5, 40)):
                records.append(ImageRecord(f"/d/{label}/{pid}_{k}.bmp", label,
                                           pid if patients else None, subset="train"))
    if with_test:
        for k in range(20):
            records.append(ImageRecord(f"/d/test/{k}.bmp", classes[k % 2], f"T{k % 4}",
                                       subset="test"))
    return DatasetIndex("/d", "class-folders", tuple(sorted(classes)), tuple(records))


def patients_of(index, ids):
    return {index.records[i].patient for i in ids}


@pytest.mark.parametrize("seed", range(5))
def test_no_patient_on_two_sides_and_stratified(seed):
    index = make_index(seed=seed)
    split = make_split(index, SplitSettings(seed=seed, val_fraction=0.2, test_fraction=0.15))
    parts = [patients_of(index, split.part(p)) for p in ("train", "val", "test")]
    assert not parts[0] & parts[1] and not parts[0] & parts[2] and not parts[1] & parts[2]
    assert sorted(split.train + split.val + split.test) == list(range(len(index.records)))
    assert split.test_source == "held-out" and not split.leaky
    for label in ("all", "hem"):
        total = sum(r.label == label for r in index.records)
        for part, fraction in (("val", 0.2), ("test", 0.15)):
            share = sum(index.records[i].label == label for i in split.part(part)) / total
            assert abs(share - fraction) < 0.1, (label, part, share)
    assert not audit(index, split, check_content=False).leaky


def test_same_seed_same_split_other_seed_other_split():
    index = make_index()
    a = make_split(index, SplitSettings(seed=3))
    assert a == make_split(index, SplitSettings(seed=3))
    assert a.val != make_split(index, SplitSettings(seed=4)).val


def test_official_test_set_is_used_and_can_be_set_aside():
    index = make_index(with_test=True)
    split = make_split(index, SplitSettings())
    official = [i for i, r in enumerate(index.records) if r.subset == "test"]
    assert list(split.test) == official and split.test_source == "official"
    aside = make_split(index, SplitSettings(use_official_test=False))
    assert aside.test_source == "held-out" and not set(aside.test) & set(official)
    assert not set(aside.train + aside.val) & set(official)


def test_image_split_is_leaky_only_when_patients_are_known():
    split = make_split(make_index(), SplitSettings(method="image"))
    assert split.leaky and split.warnings
    anonymous = make_split(make_index(patients=False), SplitSettings(method="image"))
    assert not anonymous.leaky


def test_split_without_patient_ids_warns():
    split = make_split(make_index(patients=False), SplitSettings())
    assert any("No patient IDs" in w for w in split.warnings)


def test_too_few_patients_is_a_plain_error():
    with pytest.raises(DatasetError, match="Class .hem. has only 2 patients;"):
        make_split(make_index(n_hem=2), SplitSettings(test_fraction=0.15))
    # Two donors are enough without a test part of our own.
    make_split(make_index(n_hem=2, with_test=True), SplitSettings())


def test_folds_needed_for_cnmc_folds():
    with pytest.raises(DatasetError, match="no folds"):
        make_split(make_index(), SplitSettings(method="cnmc-folds"))


@pytest.mark.parametrize("changes", [
    {"method": "random"}, {"val_fraction": 0.0}, {"val_fraction": 0.6, "test_fraction": 0.5},
])
def test_bad_settings_are_plain_errors(changes):
    with pytest.raises(DatasetError):
        make_split(make_index(), dataclasses.replace(SplitSettings(), **changes))


def test_one_class_cannot_be_split():
    index = make_index()
    one = dataclasses.replace(index, records=tuple(r for r in index.records if r.label == "all"))
    with pytest.raises(DatasetError, match="two classes"):
        make_split(one, SplitSettings())


def test_audit_finds_shared_files_and_identical_images():
    index = make_index()
    split = make_split(index, SplitSettings())
    leaky = dataclasses.replace(split, val=split.val + (split.train[0],))
    found = audit(index, leaky, check_content=False)
    pair = next(o for o in found.overlaps if (o.a, o.b) == ("train", "val"))
    assert pair.files == (index.records[split.train[0]].path,)
    # Two different files with the same content, one in train, one in test.
    a, b = index.records[split.train[1]].path, index.records[split.test[0]].path
    hashes = {r.path: r.path for r in index.records} | {a: "same", b: "same"}
    found = audit(index, split, hashes, check_content=False)
    pair = next(o for o in found.overlaps if (o.a, o.b) == ("train", "test"))
    assert pair.identical == ((a, b),) and not pair.patients
    assert "1 identical image" in found.verdict() and "1 identical images" not in found.verdict()
    assert found.to_dict()["leaky"] is True


def test_split_text_shows_sizes_and_warning():
    index = make_index()
    split = make_split(index, SplitSettings(method="image"))
    text = format_split(index, split, audit(index, split, check_content=False))
    assert "WARNING" in text and "LEAKAGE" in text and "train" in text
