"""What a report holds, independent of its format: headings, paragraphs,
tables and pictures, in order. The HTML and PDF writers render the same
document, so the two files never disagree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from matplotlib.figure import Figure


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 1  # 1 = section, 2 = subsection


@dataclass(frozen=True)
class Paragraph:
    text: str
    emphasis: bool = False  # shown boxed: notices and warnings


@dataclass(frozen=True)
class Table:
    caption: str  # says what the figures are and which data set they come from
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""  # under the table: averages, n, methods


@dataclass(frozen=True, eq=False)
class Picture:
    caption: str
    figure: Figure


Block = Heading | Paragraph | Table | Picture


@dataclass(frozen=True)
class Document:
    title: str
    notice: str  # the research-use notice, shown first
    blocks: tuple[Block, ...] = field(default=())

    def tables(self) -> tuple[Table, ...]:
        return tuple(b for b in self.blocks if isinstance(b, Table))

    def pictures(self) -> tuple[Picture, ...]:
        return tuple(b for b in self.blocks if isinstance(b, Picture))


def table(caption: str, header: Sequence[str], rows: Sequence[Sequence[object]],
          note: str = "") -> Table:
    """A table from any values (turned into text here, once)."""
    return Table(caption, tuple(str(h) for h in header),
                 tuple(tuple(str(v) for v in row) for row in rows), note)


def table_text(t: Table, max_width: int = 44) -> str:
    """A table as aligned plain text (for the terminal)."""
    import textwrap

    ncol = len(t.header)
    cells = [list(t.header)] + [list(r) + [""] * (ncol - len(r)) for r in t.rows]
    widths = [min(max_width, max(len(row[c]) for row in cells)) for c in range(ncol)]
    lines = [t.caption]

    def emit(row: list[str]) -> None:
        wrapped = [textwrap.wrap(v, w) or [""] for v, w in zip(row, widths, strict=True)]
        for i in range(max(len(w) for w in wrapped)):
            lines.append("  ".join(
                (w[i] if i < len(w) else "").ljust(widths[c]) for c, w in enumerate(wrapped)
            ).rstrip())

    emit(cells[0])
    lines.append("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        emit(row)
    if t.note:
        lines += textwrap.wrap(t.note, sum(widths) + 2 * (ncol - 1))
    return "\n".join(lines)
