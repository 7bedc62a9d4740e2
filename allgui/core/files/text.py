"""Untrusted text made safe to show on a terminal and to put in a CSV cell.

File names and a model's metadata come from whoever made the file: an ANSI
escape sequence in a class name would clear the user's screen, a cell that
starts with ``=`` runs as a formula in a spreadsheet, and a file name that
is not UTF-8 (Python keeps its bytes as lone surrogates) cannot even be
written out. Everything allgui prints or writes into a CSV passes through
here, so each rule lives in one place.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any, TextIO

# C0 controls (ESC among them), DEL, C1 controls, the bidirectional marks and
# overrides (which reorder what follows them on screen), the line and paragraph
# separators, and surrogates (bytes of a name that was not UTF-8).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
# The same, less newline, carriage return and tab: what allgui's own output uses.
_UNSAFE_IN_OUTPUT = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"
    "\ud800-\udfff]"
)
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}

# A spreadsheet runs a cell starting with one of these as a formula (the
# full-width forms too, in some locales); the apostrophe makes it text.
_FORMULA_START = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
_TEXT_MARK = "'"


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    code = ord(ch)
    if ch in _NAMED:
        return _NAMED[ch]
    if 0xDC80 <= code <= 0xDCFF:  # a byte Python could not decode (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def as_text(value: Any) -> str:
    """Any name as a str: paths through ``os.fspath``, bytes decoded keeping odd bytes."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value if isinstance(value, str) else str(value)


def terminal_text(value: Any) -> str:
    """``value`` with every control character, bidi override and undecodable
    byte written as a backslash escape (``\\x1b``, ``\\u202e``, ``\\xff``),
    so it shows as what it is and cannot steer the terminal."""
    return _UNSAFE.sub(_escape, as_text(value))


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet shows as text: control characters, bidi
    marks and undecodable bytes escaped as :func:`terminal_text` does, and a
    leading ``'`` where the text would start a formula (or itself starts with
    ``'``). :func:`csv_value` gives the very text back: a backslash that would
    read as an escape is doubled, and a C1 control is written ``\\u0085``
    (``\\x85`` is an undecodable byte). Numbers and None are returned as
    they are."""
    if value is None or isinstance(value, (int, float)):
        return value
    text = as_text(value)
    if text[:1] in _FORMULA_START or text.startswith(_TEXT_MARK):
        text = _TEXT_MARK + text
    return _UNSAFE.sub(_escape_cell, _LOOKS_ESCAPED.sub(r"\\\\", text))


def csv_row(values: Any) -> list[Any]:
    return [csv_cell(v) for v in values]


def csv_value(cell: Any) -> Any:
    """The text :func:`csv_cell` was given, escapes undone (names written are
    names read back); anything but a str (a missing cell's None) as it is."""
    if not isinstance(cell, str):
        return cell
    text = cell[1:] if cell.startswith(_TEXT_MARK) else cell
    return _ESCAPE_IN_CELL.sub(_unescape, text)


# A backslash that starts what csv_value reads as an escape (doubled on writing).
_LOOKS_ESCAPED = re.compile(r"\\(?=\\|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|[tnr]|" + _UNSAFE.pattern + ")")
_ESCAPE_IN_CELL = re.compile(r"\\(\\|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|[tnr])")
_UNNAMED = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}


def _escape_cell(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0x80 <= code <= 0x9F:  # C1 control: kept apart from an undecodable byte's \xNN
        return f"\\u{code:04x}"
    return _escape(match)


def _unescape(match: re.Match[str]) -> str:
    body = match.group(1)
    if body in _UNNAMED:
        return _UNNAMED[body]
    code = int(body[1:], 16)
    if body[0] == "x" and code >= 0x80:
        return chr(0xDC00 + code)  # a byte that was not UTF-8 (surrogateescape)
    return chr(code)


class TerminalStream:
    """A text stream that writes what it is given with unsafe characters
    escaped, except the newlines, carriage returns and tabs allgui's own
    output uses: the command line's safety net for any message that carries a
    file name or a model's metadata."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(_UNSAFE_IN_OUTPUT.sub(_escape, text))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, encoding, ...
        return getattr(self._stream, name)


class safe_terminal:
    """``with safe_terminal(): ...`` routes stdout and stderr through
    :class:`TerminalStream`, and puts them back afterwards."""

    def __enter__(self) -> None:
        self._saved = sys.stdout, sys.stderr
        sys.stdout = TerminalStream(sys.stdout)
        sys.stderr = TerminalStream(sys.stderr)

    def __exit__(self, *exc: object) -> None:
        sys.stdout, sys.stderr = self._saved


def count(n: int, word: str, plural: str = "") -> str:
    """``n`` and ``word``, in the plural unless n is 1 (``plural`` for irregular
    words): "1 image", "2 images"."""
    return f"{n} {word if n == 1 else plural or word + 's'}"
