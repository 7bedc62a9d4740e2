"""Names and paths read from a project's own files (project.toml,
batch.json, a study's attributes, a model's metadata) are untrusted: a
project folder someone sends may hold any text there. Whatever allgui
turns into a path goes through one of these checks first, so a crafted
value is refused with a sentence instead of writing outside the project.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from allgui.core.errors import ProjectError
from allgui.core.files.text import terminal_text

# Path separators, NUL and control characters: never part of one name.
_NOT_IN_A_NAME = re.compile(r"[\x00-\x1f\x7f/\\:]")
MAX_NAME = 200


def plain_name(value: Any, what: str) -> str:
    """``value`` when it is one plain file or folder name (text, not empty,
    not '.' or '..', no separators or control characters, under 200
    characters); a ProjectError naming ``what`` otherwise."""
    if (not isinstance(value, str) or not value.strip() or value in (".", "..")
            or len(value) > MAX_NAME or _NOT_IN_A_NAME.search(value)):
        raise ProjectError(
            f"{what} is not a plain name ({terminal_text(repr(value))[:80]}); the file was "
            "altered or damaged, so allgui does not use it.")
    return value


def inside(root: str | os.PathLike, path: str | os.PathLike, what: str) -> Path:
    """``path`` (relative ones read against ``root``), resolved through links,
    when it lies inside ``root``; a ProjectError naming ``what`` otherwise."""
    base = Path(root).resolve()
    target = (base / path).resolve()
    if target != base and base not in target.parents:
        raise ProjectError(
            f"{what} ({terminal_text(str(path))[:120]}) lies outside {terminal_text(str(base))}; "
            "allgui keeps a project's files inside its folder, so it does not use it.")
    return target
