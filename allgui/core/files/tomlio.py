"""Reading and writing the small TOML files allgui keeps (project.toml).

Reading uses the standard library (``tomllib``, or ``tomli`` on Python 3.10).
Writing covers what allgui stores: tables of strings, numbers, booleans and
lists of those, one level of nesting (``[search.lr]``).
"""

from __future__ import annotations

import math
import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

loads = tomllib.loads


def _value(v: Any) -> str:
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
        escaped = v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def dumps(data: dict[str, Any]) -> str:
    """Serialise ``{table: {key: value | {key: value}}}`` (None values are left out)."""
    lines: list[str] = []
    top = {k: v for k, v in data.items() if not isinstance(v, dict)}
    for k, v in top.items():
        if v is not None:
            lines.append(f"{k} = {_value(v)}")
    for table, content in data.items():
        if not isinstance(content, dict):
            continue
        scalars = {k: v for k, v in content.items() if not isinstance(v, dict) and v is not None}
        subtables = {k: v for k, v in content.items() if isinstance(v, dict)}
        if lines:
            lines.append("")
        lines.append(f"[{table}]")
        lines.extend(f"{k} = {_value(v)}" for k, v in scalars.items())
        for name, sub in subtables.items():
            lines.append("")
            lines.append(f"[{table}.{name}]")
            lines.extend(f"{k} = {_value(v)}" for k, v in sub.items() if v is not None)
    return "\n".join(lines) + "\n"
