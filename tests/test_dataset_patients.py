"""Patient IDs from C-NMC file names."""

from __future__ import annotations

import pytest

from allgui.core.dataset.patients import parse_cnmc_name, patient_from_name, patient_sort_key


@pytest.mark.parametrize(
    "name, patient",
    [
        ("UID_11_3_1_all.bmp", "11"),
        ("UID_H11_3_1_hem.bmp", "H11"),
        ("UID_h3_10_1_hem.bmp", "H3"),
        ("uid_H3_10_1_HEM.BMP", "H3"),
        ("training_data/fold_0/all/UID_57_29_1_all.bmp", "57"),
        ("UID_07_1_2_all", "7"),
    ],
)
def test_patient_ids(name, patient):
    assert patient_from_name(name) == patient


def test_donors_and_patients_with_the_same_number_differ():
    assert patient_from_name("UID_11_1_1_all.bmp") != patient_from_name("UID_H11_1_1_hem.bmp")


def test_lower_case_donor_is_the_same_person():
    assert patient_from_name("UID_h3_1_1_hem.bmp") == patient_from_name("UID_H3_2_1_hem.bmp")


def test_all_parts_are_read():
    parsed = parse_cnmc_name("UID_H6_14_2_hem.bmp")
    assert (parsed.patient, parsed.image, parsed.cell, parsed.label) == ("H6", 14, 2, "hem")


@pytest.mark.parametrize("name", ["1.bmp", "cell_01.png", "UID_x_1_1_all.bmp", "UID_1_1_1_foo"])
def test_other_names_have_no_patient(name):
    assert patient_from_name(name) is None


def test_patients_sort_by_number_then_donors_then_other_ids():
    ids = ["H10", "x", "10", "H2", "2", "h1"]
    assert sorted(ids, key=patient_sort_key) == ["2", "10", "h1", "H2", "H10", "x"]
