"""The one way allgui makes a folder for new work (a validation batch, an
evaluation, a sampler comparison): created exclusively, never reused.

Two commands started in the same second must not share a folder: the name
is claimed by ``os.mkdir`` itself (which fails when the folder exists, even
when another process made it a moment ago), and a taken name gets the next
number (``name-2``, ``name-3``...).
"""

from __future__ import annotations

import os
from pathlib import Path

from allgui.core.errors import AllguiError
from allgui.core.files.text import terminal_text

_TRIES = 10_000


def fresh_folder(parent: str | os.PathLike, name: str, what: str = "the results") -> Path:
    """A new, empty folder ``parent/name`` (or ``name-2``, ``name-3``...) that
    no one else holds: made here, with ``parent`` made as needed. An
    AllguiError names the folder when it cannot be made."""
    base = Path(parent)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AllguiError(f"Cannot make the folder {terminal_text(base)} for {what}: "
                          f"{exc.strerror or exc}.", str(exc)) from exc
    for n in range(1, _TRIES + 1):
        folder = base / (name if n == 1 else f"{name}-{n}")
        try:
            os.mkdir(folder)  # exclusive: fails when the name is taken
        except FileExistsError:
            continue
        except OSError as exc:
            raise AllguiError(f"Cannot make a folder in {terminal_text(base)} for {what}: "
                              f"{exc.strerror or exc}.", str(exc)) from exc
        return folder
    raise AllguiError(f"{terminal_text(base)} already holds {_TRIES} folders named {name}; "
                      "move some away.")
