"""Help > User guide: the guide bundled with the app (allgui/resources),
shown in a dialog; nothing is fetched, so it works offline."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

GUIDE = Path(__file__).resolve().parents[1] / "resources" / "user_guide.html"


def guide_html() -> str:
    try:
        return GUIDE.read_text(encoding="utf-8")
    except OSError:
        return ("<p>The user guide is missing from this installation "
                f"({GUIDE}); reinstall allgui to get it back.</p>")


class UserGuide(QDialog):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("allgui user guide")
        self.resize(760, 640)
        layout = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(False)  # offline: no link leaves the guide
        self.browser.setHtml(guide_html())
        layout.addWidget(self.browser, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


def show_user_guide(parent) -> UserGuide:
    dialog = UserGuide(parent)
    dialog.setAttribute(Qt.WA_DeleteOnClose, True)
    dialog.show()
    return dialog
