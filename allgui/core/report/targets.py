"""Where a report goes: the output rule of :mod:`allgui.core.files.outputs`
applied to its HTML and PDF files, before any work is done. A report allgui
wrote before is rewritten, as running ``report`` again does; any other file
of the same name is replaced only with ``force``."""

from __future__ import annotations

from pathlib import Path

from allgui.core.files.outputs import check_folder_writable, check_output

HTML_MARK = b"<title>allgui report"  # in the head of every report's HTML
PDF_MARK = b"(allgui "  # the PDF's Creator entry, 'allgui <version>'
HEAD, TAIL = 4096, 65536  # where the marks are: the HTML's head, the PDF's info at its end


def written_by_allgui(path: Path) -> bool:
    """Whether ``path`` is a report allgui wrote (its HTML title or PDF creator)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD)
            if path.suffix.lower() != ".pdf":
                return HTML_MARK in head
            if not head.startswith(b"%PDF"):
                return False
            size = fh.seek(0, 2)
            fh.seek(max(size - TAIL, 0))
            tail = fh.read()
    except OSError:
        return False
    return b"/Creator " + PDF_MARK in tail


def report_targets(folder: Path, stem: str, html: bool, pdf: bool, force: bool = False
                   ) -> tuple[Path | None, Path | None]:
    """The HTML and PDF paths to write (None for one not asked for), checked."""
    check_folder_writable(folder, "the report")
    out = []
    for wanted, suffix in ((html, ".html"), (pdf, ".pdf")):
        path = folder / f"{stem}{suffix}"
        out.append(check_output(path, force=force, ours=written_by_allgui,
                                what=f"the report's {suffix[1:].upper()} file")
                   if wanted else None)
    return out[0], out[1]
