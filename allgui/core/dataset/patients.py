"""Patient IDs read from C-NMC file names.

C-NMC names a cell ``UID_<patient>_<image>_<cell>_<class>.bmp``: ``UID_11_3_1_all``
is cell 1 of image 3 of patient 11. Healthy donors carry an ``H`` prefix and
are other people than the numbered patients (``11`` and ``H11`` differ). The
real data also write one donor as ``h3``, so names are read case-insensitively
and the ID is given one spelling: ``H3``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

_CNMC_NAME = re.compile(
    r"^UID_(?P<patient>H?\d+)_(?P<image>\d+)_(?P<cell>\d+)_(?P<label>all|hem)$", re.IGNORECASE
)


@dataclass(frozen=True)
class CnmcName:
    """The parts of one C-NMC file name."""

    patient: str  # 'H3' for healthy donor 3, '3' for patient 3
    image: int
    cell: int
    label: str  # 'all' or 'hem'


def parse_cnmc_name(name: str) -> CnmcName | None:
    """Read ``UID_<patient>_<image>_<cell>_<class>[.ext]``; None when ``name``
    is not a C-NMC name. ``name`` may be a path; only its file name counts."""
    stem = PurePath(name.replace("\\", "/")).name
    if "." in stem:
        stem = stem[: stem.rindex(".")]
    m = _CNMC_NAME.match(stem)
    if m is None:
        return None
    return CnmcName(
        patient=canonical_patient(m["patient"]),
        image=int(m["image"]),
        cell=int(m["cell"]),
        label=m["label"].lower(),
    )


def canonical_patient(raw: str) -> str:
    """One spelling per person: upper-case prefix, no leading zeros (``h03`` -> ``H3``)."""
    raw = raw.strip()
    prefix = "H" if raw[:1] in ("h", "H") else ""
    digits = raw[len(prefix):]
    return prefix + (str(int(digits)) if digits.isdigit() else digits)


def patient_from_name(name: str) -> str | None:
    """The patient ID in a C-NMC file name (or a path to one), or None."""
    parsed = parse_cnmc_name(name)
    return parsed.patient if parsed else None


_PATIENT_ID = re.compile(r"^([A-Za-z]*)(\d+)$")


def patient_sort_key(patient: str) -> tuple[str, int, str]:
    """The order patients are listed in everywhere: numbered patients by number
    (``2`` before ``10``), then healthy donors (``H1``, ``H2``, ...), then any
    other ID by name."""
    m = _PATIENT_ID.match(patient)
    if m is None:
        return ("~", 0, patient)
    return (m.group(1).upper(), int(m.group(2)), patient)
