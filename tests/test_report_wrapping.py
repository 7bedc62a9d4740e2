"""Long names wrap in the HTML reports (issue 25, case 16): a file, class or
model name without spaces never runs off the page or widens a table past it."""

from __future__ import annotations

import re

from allgui.core.report.document import Document, Paragraph, table
from allgui.core.report.html import render_html


def _rules(html: str, selector: str) -> str:
    """The declarations of the CSS rules whose selector list names ``selector``."""
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    return " ".join(body for sels, body in re.findall(r"([^{}]+)\{([^}]*)\}", style)
                    if selector in [s.strip() for s in sels.split(",")])


def test_long_names_wrap_in_text_and_in_table_cells():
    name = "UID_" + "x" * 600 + ".bmp"
    html = render_html(Document("Report", "notice", (
        Paragraph(f"Model {name} on {name}"),
        table("Images", ["File", "Class"], [[name, "all"]]),
    )))
    assert name in html
    assert re.search(r"overflow-wrap:\s*anywhere", _rules(html, "body"))
    assert re.search(r"overflow-wrap:\s*anywhere", _rules(html, "td"))
    assert re.search(r"max-width:\s*100%", _rules(html, "table"))
