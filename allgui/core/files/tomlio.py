"""Reading and writing the small TOML files allgui keeps (project.toml).

Reading uses the standard library (``tomllib``, or ``tomli`` on Python 3.10).
Writing goes through tomlkit, which edits the file a user may have annotated
in place: comments, blank lines and the order of what is kept all survive an
update. Around it, what TOML cannot hold is refused by name (text that is not
UTF-8, a value of another type) and the output is read back before it is
returned.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

loads = tomllib.loads


class TomlWriteError(ValueError):
    """A value that TOML (UTF-8 text) cannot hold; ``key`` names where it sits."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def _checked(data: Any, key: str) -> Any:
    """``data`` without None values, tuples as lists; refuses, by name, what
    TOML cannot hold."""
    if isinstance(data, dict):
        return {str(k): _checked(v, f"{key}{k}.") for k, v in data.items()
                if _text_ok(str(k), f"{key}{k}") and v is not None}
    where = key.rstrip(".")
    if isinstance(data, (list, tuple)):
        return [_checked(v, key) for v in data]
    if isinstance(data, str):
        _text_ok(data, where)
        return data
    if isinstance(data, (bool, int, float)):
        return data
    raise TomlWriteError(where, f"cannot be written to TOML ({type(data).__name__})")


def _text_ok(text: str, key: str) -> bool:
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        # A lone surrogate: a file name's bytes that are not UTF-8.
        raise TomlWriteError(key, "contains characters that are not valid text (UTF-8)")
    return True


def _merge(container: Any, data: dict[str, Any]) -> None:
    """Make ``container`` (a tomlkit document or table) hold ``data``,
    touching only what changed, so that the comments around it stay."""
    for name in [k for k in container if k not in data]:
        del container[name]
    for name, value in data.items():
        old = container.get(name)
        if isinstance(value, dict):
            if isinstance(old, dict):
                _merge(old, value)
            else:
                table = tomlkit.table()
                _merge(table, value)
                container[name] = table
        elif name not in container or not _same(_plain(old), value):
            container[name] = value


def _plain(item: Any) -> Any:
    """A tomlkit item as the plain Python value it holds."""
    unwrap = getattr(item, "unwrap", None)
    return unwrap() if callable(unwrap) else item


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _document(previous: str) -> Any:
    """The file as it stands, to edit in place; a fresh document when there is
    none or tomlkit cannot parse it (the values are written whole either way)."""
    if previous.strip():
        try:
            return tomlkit.parse(previous)
        except TOMLKitError:
            pass
    return tomlkit.document()


def dumps(data: dict[str, Any], previous: str = "") -> str:
    """Serialise ``{table: {key: value | {key: value}}}`` (None values are left
    out), as an edit of ``previous`` (the file's text now) when given.

    Raises :class:`TomlWriteError` naming the setting that cannot be written."""
    wanted = _checked(data, "")
    doc = _document(previous)
    _merge(doc, wanted)
    text = tomlkit.dumps(doc)
    try:
        back = loads(text)
    except tomllib.TOMLDecodeError as exc:  # a bug here, never the user's doing
        raise TomlWriteError("project.toml", f"would not read back ({exc})") from exc
    if not _same(back, wanted):
        raise TomlWriteError("project.toml", "would not read back as written")
    return text
