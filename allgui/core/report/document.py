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
