"""The list of files a demo generation wrote, so a new generation replaces
exactly those and never a file the user put into the folder.

``allgui-generated.txt`` beside ``SYNTHETIC_DATA.txt`` holds one line per file:
its SHA-256 and its path relative to the dataset folder.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from allgui.core.errors import DatasetError
from allgui.core.files.atomic import atomic_write_text

LEDGER = "allgui-generated.txt"
GENERATED_DIRS = ("training_data", "validation_data", "testing_data")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_ledger(root: Path) -> None:
    """Record every file now under the generated folders as allgui's."""
    lines = []
    for sub in GENERATED_DIRS:
        for path in sorted((root / sub).rglob("*")):
            if path.is_file():
                lines.append(f"{_digest(path)}  {path.relative_to(root).as_posix()}")
    atomic_write_text(root / LEDGER, "\n".join(lines) + "\n")


def _read_ledger(root: Path) -> dict[str, str]:
    try:
        text = (root / LEDGER).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{root / LEDGER} cannot be read; choose an empty folder.",
                           str(exc)) from exc
    entries = {}
    for line in text.splitlines():
        digest, _, rel = line.partition("  ")
        if rel:
            entries[rel] = digest
    return entries


def remove_previous(root: Path) -> None:
    """Delete the files an earlier generation wrote; refuse, deleting nothing,
    when any file under the generated folders is not one of them (or was changed)."""
    entries = _read_ledger(root)
    foreign = []
    present = []
    for sub in GENERATED_DIRS:
        for path in sorted((root / sub).rglob("*")):
            if not path.is_file() and not path.is_symlink():
                continue
            rel = path.relative_to(root).as_posix()
            if path.is_symlink() or entries.get(rel) != _digest(path):
                foreign.append(rel)
            else:
                present.append(path)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise DatasetError(
            f"{root} holds files allgui did not generate ({shown}). Nothing was deleted: "
            "move your files elsewhere or choose an empty folder for the demo data."
        )
    for path in present:
        path.unlink()
    for sub in GENERATED_DIRS:
        # Empty folders left by the old set, deepest first.
        for folder, _dirs, _files in sorted(os.walk(root / sub), key=lambda w: -len(w[0])):
            try:
                os.rmdir(folder)
            except OSError:
                pass
