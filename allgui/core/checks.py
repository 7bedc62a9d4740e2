"""Checks that settings hold what their fields say, before anything is saved.

Every settings dataclass calls :func:`check_fields` in ``__post_init__``, so a
wrong type in project.toml, on the command line or in the window is refused
with a sentence naming the setting, never stored, and never met later as a
crash deep inside a job.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

from allgui.core.errors import AllguiError

DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
DEVICE_WORDS = "'auto', 'cpu', 'cuda' (or 'cuda:1' for the second GPU) or 'mps'"


class SettingError(AllguiError):
    """A setting holds a value allgui cannot use; the message names it."""


def _kind_ok(annotation: str, value: Any) -> bool:
    kinds = {a.strip() for a in annotation.split("|")}
    if "None" in kinds and value is None:
        return True
    if "bool" in kinds:
        if isinstance(value, bool):
            return True
    if isinstance(value, bool):
        return False  # True is an int to Python, never to a user
    if "int" in kinds and isinstance(value, int):
        return True
    if "float" in kinds and isinstance(value, (int, float)):
        return True
    if "str" in kinds and isinstance(value, str):
        return True
    return not kinds & {"bool", "int", "float", "str"}  # other types: checked by their class


def _kind_word(annotation: str) -> str:
    words = {"int": "a whole number", "float": "a number", "str": "text", "bool": "true or false"}
    return " or ".join(words.get(a.strip(), a.strip()) for a in annotation.split("|")
                       if a.strip() != "None")


def check_fields(instance: Any, section: str) -> None:
    """Refuse a field whose value is not of its annotated plain type."""
    for f in dataclasses.fields(instance):
        value = getattr(instance, f.name)
        annotation = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        if not _kind_ok(annotation, value):
            raise SettingError(
                f"The setting {section}.{f.name} must be {_kind_word(annotation)}, "
                f"not {value!r}."
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise SettingError(f"The setting {section}.{f.name} must be a finite number.")


def check_device(device: str | None, setting: str = "device") -> None:
    if device is None:
        return
    if not isinstance(device, str) or not DEVICE_PATTERN.fullmatch(device):
        raise SettingError(f"The {setting} {device!r} is not one allgui knows; use {DEVICE_WORDS}.")


def check_text(value: str, setting: str) -> None:
    """Names (of studies, folders) may hold any printable text, no control characters."""
    bad = [c for c in value if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0]
    if bad:
        raise SettingError(f"The {setting} contains control characters; type it again without them.")
