"""A full-size C-NMC 2019 tree with tiny pixels, built from the real file list.

Every one of the 15,114 paths of the Kaggle distribution is written as a 4x4
BMP whose pixels encode the file's number, so no two files are identical.
The preliminary test set's labels CSV is generated too: the real original
names are not in the file list, so consistent ones are invented for a set of
test patients who are not among the training patients.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from PIL import Image

# Invented preliminary-test patients: numbers and donors unused in training.
TEST_ALL_PATIENTS = ("80", "81", "82", "83", "84", "85", "86")
TEST_HEM_PATIENTS = ("H30", "H31", "H32", "H33")


def _bmp_template(size: int) -> tuple[bytes, int]:
    buf = io.BytesIO()
    Image.new("RGB", (size, size)).save(buf, format="BMP")
    data = buf.getvalue()
    offset = int.from_bytes(data[10:14], "little")
    return data, offset


def write_cnmc_tree(file_list: Path, root: Path, size: int = 4,
                    every: int = 1) -> dict[str, tuple[str, str]]:
    """Write the tree under ``root``; return new_name -> (original name, label)
    as written to the labels CSV. ``every`` > 1 keeps every n-th path only: the
    same layout and names, small enough to train on."""
    template, offset = _bmp_template(size)
    head = template[:offset]
    n_pixel_bytes = len(template) - offset
    made_dirs: set[Path] = set()
    prelim: list[str] = []
    for n, rel in enumerate(file_list.read_text().split()[::every]):
        path = root / rel
        if path.parent not in made_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            made_dirs.add(path.parent)
        stamp = n.to_bytes(4, "little") * (n_pixel_bytes // 4 + 1)
        path.write_bytes(head + stamp[:n_pixel_bytes])
        if "/validation_data/" in rel:
            prelim.append(path.name)
    labels: dict[str, tuple[str, str]] = {}
    counters: dict[str, int] = {}
    for k, new_name in enumerate(sorted(prelim, key=lambda s: int(s.split(".")[0]))):
        # About 2 ALL to 1 HEM, as the real preliminary test set.
        if k % 3 == 2:
            patient, label, code = TEST_HEM_PATIENTS[k % len(TEST_HEM_PATIENTS)], "hem", "0"
        else:
            patient, label, code = TEST_ALL_PATIENTS[k % len(TEST_ALL_PATIENTS)], "all", "1"
        counters[patient] = counters.get(patient, 0) + 1
        original = f"UID_{patient}_{counters[patient]}_1_{label}.bmp"
        labels[new_name] = (original, code)
    csv_path = root / "C-NMC_Leukemia/validation_data/C-NMC_test_prelim_phase_data_labels.csv"
    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Patient_ID", "new_names", "labels"])
        for new_name, (original, code) in labels.items():
            w.writerow([original, new_name, code])
    return labels
