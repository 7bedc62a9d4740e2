"""The full-size C-NMC 2019 tree (real names, tiny pixels): discovery,
summary and splits on the real structure."""

from __future__ import annotations

import csv
from collections import defaultdict

import pytest

from allgui.core.dataset.discover import discover
from allgui.core.dataset.splits import audit, make_split
from allgui.core.dataset.summary import format_summary, summarize
from allgui.core.project import SplitSettings


@pytest.fixture(scope="module")
def tree(cnmc_tree):
    return cnmc_tree


@pytest.fixture(scope="module")
def index(tree):
    return discover(tree)


@pytest.fixture(scope="module")
def summary(index):
    return summarize(index)


def test_training_set_counts(index, summary):
    assert index.layout == "cnmc" and index.positive_class == "all"
    assert summary.per_subset["train"] == {"all": 7272, "hem": 3389}
    train = [r for r in index.records if r.subset == "train"]
    patients = {r.patient for r in train}
    assert len(patients) == 73
    assert summary.patients_per_subset["train"] == {"all": 47, "hem": 26}
    # 'h3' in the real names is donor H3; 11 and H11 are two people.
    assert "H3" in patients and "h3" not in patients
    assert {"11", "H11"} <= patients
    assert not index.bad_files and not summary.bad_files and not summary.identical


def test_folds_are_patient_disjoint(index):
    folds_of = defaultdict(set)
    for r in index.records:
        if r.subset == "train":
            folds_of[r.patient].add(r.fold)
    assert {f for fs in folds_of.values() for f in fs} == {"fold_0", "fold_1", "fold_2"}
    assert all(len(fs) == 1 for fs in folds_of.values())


def test_labels_csv_is_joined(tree, index, summary, cnmc_test_patients):
    test = [r for r in index.records if r.subset == "test"]
    assert len(test) == 1867
    with open(tree / "C-NMC_Leukemia/validation_data/C-NMC_test_prelim_phase_data_labels.csv") as fh:
        rows = {row["new_names"]: row for row in csv.DictReader(fh)}
    for r in test:
        row = rows[r.path.rsplit("/", 1)[-1]]
        assert r.original_name == row["Patient_ID"]
        assert r.label == ("all" if row["labels"] == "1" else "hem")
    assert {r.patient for r in test} == cnmc_test_patients
    assert summary.count("unlabelled") == 2586
    text = format_summary(summary)
    assert "Patients in train: 73 (47 all, 26 hem)" in text
    assert "7,272" in text and "3,389" in text and "1,867" in text


def test_default_split_is_patient_disjoint_with_official_test(index, summary):
    split = make_split(index, SplitSettings())
    assert split.test_source == "official" and not split.leaky
    assert len(split.test) == 1867
    assert len(split.train) + len(split.val) == 10661
    parts = {p: {index.records[i].patient for i in split.part(p)} for p in ("train", "val")}
    assert not parts["train"] & parts["val"]
    report = audit(index, split, summary.hashes)
    assert not report.leaky and report.content_checked
    # Validation gets about its share of each class, in images, despite whole patients.
    for label in ("all", "hem"):
        n_val = sum(index.records[i].label == label for i in split.val)
        n_all = sum(r.label == label and r.subset == "train" for r in index.records)
        assert abs(n_val / n_all - 0.2) < 0.05


def test_cnmc_folds_as_groups(index):
    split = make_split(index, SplitSettings(method="cnmc-folds", seed=1))
    assert split.fold_names == ("fold_0", "fold_1", "fold_2")
    assert {index.records[i].fold for i in split.val} == {"fold_1"}
    assert sum(len(f) for f in split.folds) == 10661
    assert not audit(index, split, check_content=False).leaky


def test_image_split_is_flagged_and_audit_finds_the_leak(index, summary):
    split = make_split(index, SplitSettings(method="image"))
    assert split.leaky and any("optimistic" in w for w in split.warnings)
    report = audit(index, split, summary.hashes)
    assert report.leaky
    train_val = next(o for o in report.overlaps if (o.a, o.b) == ("train", "val"))
    assert len(train_val.patients) > 60
    assert "LEAKAGE" in report.verdict()
