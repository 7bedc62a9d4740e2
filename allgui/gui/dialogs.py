"""The questions the window asks the user, as module-level functions.

Kept in one place so that tests can replace them (``monkeypatch.setattr``)
and drive the window without blocking on a modal dialog.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from allgui.core.dataset.imaging import IMAGE_EXTENSIONS

IMAGE_FILTER = "Images (" + " ".join(f"*{e}" for e in sorted(IMAGE_EXTENSIONS)) + ")"


def question_box(parent: QWidget | None, title: str, question: str) -> QMessageBox:
    """A Yes/No box; its text is plain, since questions name files and folders
    (a name like ``<b>x`` is shown as written, never read as markup)."""
    box = QMessageBox(QMessageBox.Question, title, "", QMessageBox.Yes | QMessageBox.No, parent)
    box.setTextFormat(Qt.PlainText)
    box.setText(question)
    box.setDefaultButton(QMessageBox.No)
    return box


def ask_yes_no(parent: QWidget | None, title: str, question: str) -> bool:
    return question_box(parent, title, question).exec() == QMessageBox.Yes


def choose_directory(parent: QWidget | None, title: str, start: str = "") -> str:
    return QFileDialog.getExistingDirectory(parent, title, start)


def choose_images(parent: QWidget | None, title: str, start: str = "") -> list[str]:
    files, _ = QFileDialog.getOpenFileNames(parent, title, start, IMAGE_FILTER)
    return list(files)


def choose_open_file(parent: QWidget | None, title: str, start: str, filters: str) -> str:
    path, _ = QFileDialog.getOpenFileName(parent, title, start, filters)
    return path


def choose_save_file(parent: QWidget | None, title: str, start: str, filters: str) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, title, start, filters)
    return path
