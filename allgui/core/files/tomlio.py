"""Reading and writing the small TOML files allgui keeps (project.toml).

Reading uses the standard library (``tomllib``, or ``tomli`` on Python 3.10).
Writing covers what allgui stores: tables of strings, numbers, booleans and
lists of those, one level of nesting (``[search.lr]``). The writer never emits
what the reader refuses: every string is escaped as TOML asks (control
characters included), keys that are not bare are quoted, text that cannot be
UTF-8 is refused by name, and the output is read back before it is returned.
"""

from __future__ import annotations

import math
import re
import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

loads = tomllib.loads

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r",
                  '"': '\\"', "\\": "\\\\"}


class TomlWriteError(ValueError):
    """A value that TOML (UTF-8 text) cannot hold; ``key`` names where it sits."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def _string(v: str, key: str) -> str:
    out = []
    for ch in v:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            # A lone surrogate: a file name's bytes that are not UTF-8.
            raise TomlWriteError(key, "contains characters that are not valid text (UTF-8)")
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _key(k: Any, where: str) -> str:
    k = str(k)
    return k if _BARE_KEY.fullmatch(k) else _string(k, f"{where}{k}")


def _value(v: Any, key: str) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _string(v, key)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x, key) for x in v) + "]"
    raise TomlWriteError(key, f"cannot be written to TOML ({type(v).__name__})")


def _lines(table: dict[str, Any], prefix: str) -> list[str]:
    return [
        f"{_key(k, prefix)} = {_value(v, prefix + str(k))}"
        for k, v in table.items()
        if not isinstance(v, dict) and v is not None
    ]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _without_none(data: Any) -> Any:
    if isinstance(data, dict):
        return {str(k): _without_none(v) for k, v in data.items() if v is not None}
    if isinstance(data, tuple):
        return [_without_none(v) for v in data]
    if isinstance(data, list):
        return [_without_none(v) for v in data]
    return data


def dumps(data: dict[str, Any]) -> str:
    """Serialise ``{table: {key: value | {key: value}}}`` (None values are left out).

    Raises :class:`TomlWriteError` naming the setting that cannot be written."""
    lines = _lines(data, "")
    for table, content in data.items():
        if not isinstance(content, dict):
            continue
        if lines:
            lines.append("")
        lines.append(f"[{_key(table, '')}]")
        lines.extend(_lines(content, f"{table}."))
        for name, sub in content.items():
            if isinstance(sub, dict):
                lines.append("")
                lines.append(f"[{_key(table, '')}.{_key(name, f'{table}.')}]")
                lines.extend(_lines(sub, f"{table}.{name}."))
    text = "\n".join(lines) + "\n"
    try:
        back = loads(text)
    except tomllib.TOMLDecodeError as exc:  # a bug here, never the user's doing
        raise TomlWriteError("project.toml", f"would not read back ({exc})") from exc
    if not _same(back, _without_none(data)):
        raise TomlWriteError("project.toml", "would not read back as written")
    return text
