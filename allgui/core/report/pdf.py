"""A report as a PDF: the same document as the HTML, laid out on A4 pages
with matplotlib (text pages drawn as figure text, pictures placed as images),
written through :class:`matplotlib.backends.backend_pdf.PdfPages`."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from allgui import __version__
from allgui.core.files.atomic import atomic_open
from allgui.core.report.document import Document, Heading, Paragraph, Picture, Table
from allgui.core.report.figures import figure_png, plain_text

PAGE_W, PAGE_H = 8.27, 11.69  # A4, inches
MARGIN = 0.6  # inches
PT = 1 / 72  # one point, in inches
SANS = "DejaVu Sans"
MONO = "DejaVu Sans Mono"
MONO_WIDTH = 0.602  # DejaVu Sans Mono advance width, in ems
SANS_WIDTH = 0.56  # a safe average for running text


class _Pages:
    """A cursor that flows lines and images down A4 pages."""

    def __init__(self, pdf: PdfPages, doc: Document) -> None:
        self.pdf = pdf
        self.doc = doc
        self.page = 0
        self.fig: Figure | None = None
        self.y = 0.0  # inches from the top of the page
        self.new_page()

    @property
    def width(self) -> float:
        return PAGE_W - 2 * MARGIN

    @property
    def room(self) -> float:
        return PAGE_H - MARGIN - 0.35 - self.y  # leave space for the footer

    def new_page(self) -> None:
        self.finish_page()
        self.page += 1
        self.fig = Figure(figsize=(PAGE_W, PAGE_H))
        FigureCanvasAgg(self.fig)
        self.y = MARGIN
        self.fig.text(MARGIN / PAGE_W, 0.35 / PAGE_H,
                      f"{plain_text(self.doc.title)}  \u2014  page {self.page}  \u2014  "
                      "Research use only, not for diagnosis.",
                      fontsize=7, color="#666", family=SANS)

    def finish_page(self) -> None:
        if self.fig is not None:
            self.pdf.savefig(self.fig)
            self.fig = None

    def need(self, height: float) -> None:
        if height > self.room and self.y > MARGIN + 0.01:
            self.new_page()

    def line(self, text: str, size: float, *, family: str = SANS, weight: str = "normal",
             colour: str = "#222", indent: float = 0.0, gap: float = 1.3) -> None:
        h = size * gap * PT
        self.need(h)
        assert self.fig is not None
        self.fig.text((MARGIN + indent) / PAGE_W, 1 - (self.y + size * PT) / PAGE_H,
                      plain_text(text),
                      fontsize=size, family=family, weight=weight, color=colour)
        self.y += h

    def wrapped(self, text: str, size: float, **kw) -> None:
        chars = max(20, int(self.width / (size * PT * SANS_WIDTH)))
        for para in text.split("\n"):
            for ln in textwrap.wrap(para, chars) or [""]:
                self.line(ln, size, **kw)

    def space(self, inches: float) -> None:
        self.y += inches

    def rule(self) -> None:
        assert self.fig is not None
        y = 1 - self.y / PAGE_H
        self.fig.add_artist(
            _hline(MARGIN / PAGE_W, 1 - MARGIN / PAGE_W, y)
        )

    def image(self, png: bytes, caption: str) -> None:
        from matplotlib.image import imread

        arr = imread(io.BytesIO(png), format="png")
        h_px, w_px = arr.shape[:2]
        w = min(self.width, w_px / 150)
        h = w * h_px / w_px
        max_h = PAGE_H - 2 * MARGIN - 1.2
        if h > max_h:
            h, w = max_h, max_h * w_px / h_px
        self.need(h + 0.5)
        assert self.fig is not None
        left = MARGIN + (self.width - w) / 2
        ax = self.fig.add_axes((left / PAGE_W, 1 - (self.y + h) / PAGE_H, w / PAGE_W, h / PAGE_H))
        ax.imshow(arr, interpolation="antialiased")
        ax.set_axis_off()
        self.y += h + 0.08
        self.wrapped(caption, 8, colour="#444")
        self.space(0.15)


def _hline(x0: float, x1: float, y: float):
    from matplotlib.lines import Line2D

    return Line2D([x0, x1], [y, y], lw=0.6, color="#888")


def _table(pages: _Pages, t: Table) -> None:
    ncol = len(t.header)
    cells = [list(t.header)] + [list(r) + [""] * (ncol - len(r)) for r in t.rows]
    widths = [min(48, max(len(row[c]) for row in cells)) for c in range(ncol)]
    total_chars = sum(widths) + 2 * (ncol - 1)
    size = min(8.0, pages.width / (total_chars * MONO_WIDTH * PT))
    size = max(size, 4.5)
    if total_chars * MONO_WIDTH * size * PT > pages.width:  # still too wide: narrow long columns
        budget = int(pages.width / (MONO_WIDTH * size * PT)) - 2 * (ncol - 1)
        while sum(widths) > budget and max(widths) > 8:
            widths[widths.index(max(widths))] -= 1

    def lines_of(row: list[str]) -> list[str]:
        wrapped = [textwrap.wrap(v, w) or [""] for v, w in zip(row, widths, strict=True)]
        height = max(len(w) for w in wrapped)
        out = []
        for i in range(height):
            out.append("  ".join(
                (w[i] if i < len(w) else "").ljust(widths[c]) for c, w in enumerate(wrapped)
            ).rstrip())
        return out

    header_lines = lines_of(cells[0])
    line_h = size * 1.3 * PT
    pages.need(0.3 + line_h * (len(header_lines) + min(3, len(cells) - 1)))
    pages.wrapped(t.caption, 9, weight="bold")
    pages.space(0.03)

    def header() -> None:
        for ln in header_lines:
            pages.line(ln, size, family=MONO, weight="bold")
        pages.rule()
        pages.space(0.03)

    header()
    for row in cells[1:]:
        body = lines_of(row)
        if line_h * len(body) > pages.room:
            pages.new_page()
            pages.wrapped(t.caption + " (continued)", 9, weight="bold")
            header()
        for ln in body:
            pages.line(ln, size, family=MONO)
    if t.note:
        pages.space(0.03)
        pages.wrapped(t.note, 7.5, colour="#555")
    pages.space(0.18)


def render_pdf(doc: Document) -> bytes:
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": doc.title, "Creator": f"allgui {__version__}",
                                 "Subject": doc.notice}) as pdf:
        pages = _Pages(pdf, doc)
        pages.wrapped(doc.title, 17, weight="bold")
        pages.space(0.1)
        pages.wrapped(doc.notice, 10, weight="bold", colour="#B03A00")
        pages.space(0.2)
        for block in doc.blocks:
            if isinstance(block, Heading):
                size = 13 if block.level <= 1 else 10.5
                pages.need(0.9)
                pages.space(0.12)
                pages.wrapped(block.text, size, weight="bold", colour="#0b4f7c")
                pages.space(0.04)
            elif isinstance(block, Paragraph):
                kw = {"weight": "bold", "colour": "#B03A00"} if block.emphasis else {}
                pages.wrapped(block.text, 9, **kw)
                pages.space(0.08)
            elif isinstance(block, Table):
                _table(pages, block)
            elif isinstance(block, Picture):
                pages.image(figure_png(block.figure, dpi=150), block.caption)
        pages.finish_page()
    return buf.getvalue()


def write_pdf(doc: Document, path: str | Path) -> Path:
    path = Path(path)
    data = render_pdf(doc)
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return path


__all__ = ["render_pdf", "write_pdf"]
