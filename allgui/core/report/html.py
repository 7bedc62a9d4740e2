"""A report as one self-contained HTML file: styles inline, pictures
embedded as base64 PNG, every piece of text escaped."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from allgui.core.files.atomic import atomic_write_text
from allgui.core.report.document import Document, Heading, Paragraph, Picture, Table
from allgui.core.report.figures import figure_png

STYLE = """
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Arial, sans-serif;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.4;
       overflow-wrap: anywhere; }
h1 { font-size: 1.6em; border-bottom: 2px solid #0072B2; padding-bottom: .2em; }
h2 { font-size: 1.25em; margin-top: 1.8em; color: #0b4f7c; }
h3 { font-size: 1.05em; margin-top: 1.2em; }
.notice { border: 2px solid #D55E00; background: #fff4ec; padding: .6em 1em; font-weight: 600; }
table { border-collapse: collapse; margin: .2em 0 .2em; font-size: .88em; }
.caption { font-weight: 600; margin: 1.2em 0 .2em; }
th, td { border: 1px solid #bbb; padding: .25em .5em; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; word-break: break-word; }
table { max-width: 100%; }
th { background: #eef3f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { font-size: .82em; color: #555; margin: 0 0 1em; }
figure { margin: 1em 0; }
figure img { max-width: min(100%, 760px); border: 1px solid #ddd; }
figcaption { font-size: .88em; color: #444; }
"""


def _is_number(text: str) -> bool:
    t = text.replace("%", "").replace("\u00b1", "").strip()
    try:
        float(t)
    except ValueError:
        return t.startswith("[") and t.endswith("]")
    return True


def render_html(doc: Document) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(doc.title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(doc.title)}</h1>",
        f'<p class="notice">{escape(doc.notice)}</p>',
    ]
    for block in doc.blocks:
        if isinstance(block, Heading):
            level = 2 if block.level <= 1 else 3
            parts.append(f"<h{level}>{escape(block.text)}</h{level}>")
        elif isinstance(block, Paragraph):
            cls = ' class="notice"' if block.emphasis else ""
            parts.append(f"<p{cls}>{escape(block.text)}</p>")
        elif isinstance(block, Table):
            parts.append(f'<p class="caption">{escape(block.caption)}</p><table><thead><tr>')
            parts += [f"<th>{escape(h)}</th>" for h in block.header]
            parts.append("</tr></thead><tbody>")
            # Right-align a column only when every value in it is a number.
            numeric = [all(_is_number(r[c]) or r[c] in ("n/a", "", "unknown") for r in block.rows
                           if c < len(r)) for c in range(len(block.header))]
            for row in block.rows:
                cells = "".join(
                    f'<td class="num">{escape(v)}</td>' if c < len(numeric) and numeric[c]
                    else f"<td>{escape(v)}</td>"
                    for c, v in enumerate(row)
                )
                parts.append(f"<tr>{cells}</tr>")
            parts.append("</tbody></table>")
            if block.note:
                parts.append(f'<p class="note">{escape(block.note)}</p>')
        elif isinstance(block, Picture):
            data = base64.b64encode(figure_png(block.figure)).decode("ascii")
            parts.append(
                f'<figure><img alt="{escape(block.caption)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{escape(block.caption)}</figcaption></figure>"
            )
    parts.append(f'<p class="note">{escape(doc.notice)}</p></body></html>')
    return "\n".join(parts)


def write_html(doc: Document, path: str | Path) -> Path:
    path = Path(path)
    atomic_write_text(path, render_html(doc))
    return path
