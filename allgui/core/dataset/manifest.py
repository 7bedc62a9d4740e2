"""Labels read from CSV files: a manifest (``path,label[,patient]``) and the
C-NMC preliminary test set's labels CSV.

Both are checked the same way: a row with more values than the header has
columns names its file and line; one image listed twice with different labels
is refused, naming both labels (twice with the same label: one warning); a
C-NMC label that is neither 0/1 nor all/hem is named as unknown; and a C-NMC
name that says one class while the label says another is a warning.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable
from pathlib import Path

from allgui.core.dataset.folders import (
    CNMC_POSITIVE,
    Checker,
    children,
    is_synthetic,
)
from allgui.core.dataset.labels import ClassNames, label_problem
from allgui.core.dataset.patients import canonical_patient, parse_cnmc_name
from allgui.core.dataset.records import BadFile, DatasetIndex, ImageRecord
from allgui.core.errors import DatasetError
from allgui.core.events import Sink

CNMC_LABELS = {"1": "all", "0": "hem", "all": "all", "hem": "hem"}
CNMC_EXPECTED = "1 or all, 0 or hem"


def read_rows(csv_path: Path, what: str) -> list[tuple[int, dict[str, str]]]:
    """``(line number, row)`` for each row, keys lower-case, values stripped.
    A row with more values than the header has columns is a DatasetError
    naming the file and line (an unquoted comma in a file name, usually)."""
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            rows = []
            for row in reader:
                if None in row:  # DictReader puts surplus values under the key None
                    raise DatasetError(
                        f"Line {reader.line_num} of the {what} {csv_path} has more values "
                        f"than its header has columns ({len(reader.fieldnames or [])}). "
                        "Put a file name that holds a comma in double quotes, or remove "
                        "the extra comma.",
                        f"extra values: {row[None]!r}",
                    )
                rows.append((reader.line_num, {
                    (k or "").strip().lower(): (v or "").strip() for k, v in row.items()
                }))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"Cannot read the {what} {csv_path}.", str(exc)) from exc
    return rows


class LabelTable:
    """Labels by key (a path, or a C-NMC name), refusing contradictions."""

    def __init__(self, csv_path: Path, what: str) -> None:
        self.csv_path, self.what = csv_path, what
        self.labels: dict[str, str] = {}
        self.lines: dict[str, int] = {}
        self.repeats = 0

    def add(self, key: str, label: str, line: int, shown: str) -> bool:
        """Record ``label`` for ``key``; False for a repeat of the same label."""
        before = self.labels.get(key)
        if before is None:
            self.labels[key], self.lines[key] = label, line
            return True
        if before != label:
            raise DatasetError(
                f"The {self.what} {self.csv_path} lists {shown} twice with different "
                f"labels: '{before}' (line {self.lines[key]}) and '{label}' (line {line}). "
                "Keep the right one and remove the other."
            )
        self.repeats += 1
        return False

    def repeat_note(self) -> list[str]:
        if not self.repeats:
            return []
        return [f"{self.repeats} rows of the {self.what} {self.csv_path.name} repeat an image "
                "already listed with the same label; counted once."]


def name_disagrees(name: str, label: str) -> str | None:
    """The class a C-NMC file name says, when it is not ``label``."""
    parsed = parse_cnmc_name(name)
    if parsed is None or label not in ("all", "hem") or parsed.label == label:
        return None
    return parsed.label


def disagreement_note(found: list[tuple[str, str, str]], where: str) -> list[str]:
    """One warning for images whose C-NMC name says another class than their label."""
    if not found:
        return []
    name, says, label = found[0]
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return [f"{len(found)} images in {where} are labelled differently from what their "
            f"C-NMC name says: {name} says '{says}', its label '{label}'{more}. "
            "The label was used; check the labels file."]


def read_cnmc_labels(csv_path: Path) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """``new_names`` -> (original name, label) from the preliminary test labels
    CSV, and notes. A label allgui does not know is kept as the raw text, for
    the image to be reported with it."""
    table = LabelTable(csv_path, "C-NMC labels file")
    out: dict[str, tuple[str, str]] = {}
    for line, row in read_rows(csv_path, "C-NMC labels file"):
        new, original, raw = row.get("new_names", ""), row.get("patient_id", ""), row.get("labels")
        if not new or raw is None:
            continue
        label = CNMC_LABELS.get(raw.lower(), raw)
        if table.add(new.lower(), label, line, new):
            out[new.lower()] = (original, label)
    if not any(label in ("all", "hem") for _, label in out.values()):
        raise DatasetError(
            f"The C-NMC labels file {csv_path} has no usable rows "
            "(expected columns Patient_ID,new_names,labels)."
        )
    return out, table.repeat_note()


def unknown_label(raw: str, csv_path: Path) -> str:
    return f"unknown label '{raw}' in {csv_path.name} (expected {CNMC_EXPECTED})"


def manifest_columns(csv_path: Path) -> list[str] | None:
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    if not header:
        return None
    cols = [h.strip().lower() for h in header]
    return cols if "path" in cols and "label" in cols else None


def find_manifest(folder: Path) -> Path | None:
    csvs = [c for c in children(folder) if c.is_file() and c.suffix.lower() == ".csv"]
    hits = [c for c in csvs if manifest_columns(c) is not None]
    if len(hits) > 1:
        names = ", ".join(h.name for h in hits)
        raise DatasetError(f"{folder} holds several manifests ({names}); choose one of them.")
    return hits[0] if hits else None


def scan_manifest(
    csv_path: Path,
    sink: Sink,
    cancel: threading.Event | None,
    root: Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> DatasetIndex:
    if manifest_columns(csv_path) is None:
        raise DatasetError(
            f"{csv_path} is not a manifest allgui understands: "
            "its first line must name the columns path,label (and optionally patient)."
        )
    rows = read_rows(csv_path, "manifest")
    base = csv_path.parent
    table = LabelTable(csv_path, "manifest")
    names = ClassNames()
    listed: list[tuple[Path, dict[str, str]]] = []
    refused: list[BadFile] = []
    for line, row in rows:
        raw = row.get("path", "")
        if not raw:
            continue
        path = Path(raw.replace("\\", "/")).expanduser()
        path = (path if path.is_absolute() else base / path).resolve()
        label = row.get("label", "")
        if label and (problem := label_problem(label)) is not None:
            refused.append(BadFile(str(path), f"{problem} (line {line} of {csv_path.name})"))
            continue
        row = {**row, "label": names.add(label) if label else ""}  # one class per identity
        if table.add(str(path), row["label"], line, raw):
            listed.append((path, row))
    check = Checker(sink, cancel, len(rows))
    records: list[ImageRecord] = []
    bad_missing: list[BadFile] = []
    disagree: list[tuple[str, str, str]] = []
    for path, row in listed:
        if not path.is_file():
            bad_missing.append(BadFile(str(path), "listed in the manifest but not found"))
            check.done += 1
            continue
        if not check.ok(path):
            continue
        label = row.get("label", "")
        if (says := name_disagrees(path.name, label)) is not None:
            disagree.append((path.name, says, label))
        patient = row.get("patient") or None
        if patient is None:
            parsed = parse_cnmc_name(path.name)
            patient = parsed.patient if parsed else None
        elif parse_cnmc_name(path.name) is not None:
            patient = canonical_patient(patient)
        subset = (row.get("subset") or row.get("split") or "train").lower()
        if subset not in ("train", "test"):
            subset = "train"
        records.append(
            ImageRecord(str(path), label, patient, subset=subset if label else "unlabelled")
        )
    notes = (table.repeat_note() + names.merge_note(f"labels in {csv_path.name}")
             + disagreement_note(disagree, f"the manifest {csv_path.name}"))
    for text in notes:
        if warn is not None:
            warn(text)
    if not records:
        raise DatasetError(f"The manifest {csv_path} lists no readable images.")
    classes = tuple(sorted({r.label for r in records if r.label}))
    return DatasetIndex(
        root=str(root or base),
        layout="manifest",
        classes=classes,
        records=tuple(sorted(records, key=lambda r: r.path)),
        bad_files=tuple(refused + bad_missing + check.bad),
        positive_class=CNMC_POSITIVE if CNMC_POSITIVE in classes else None,
        synthetic=is_synthetic(base, root or base),
        notes=tuple(notes),
    )
