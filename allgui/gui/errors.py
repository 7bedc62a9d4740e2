"""Problems shown in plain words, details one click away, everything logged.

:func:`show_error` is the one way the window reports a failure: a message a
clinician can act on, the technical details behind "Show Details...", and a
line in the log. Dialogs open window-modal but non-blocking (``open()``), so
tests can find and close them; tests may also replace :data:`present`.

:func:`install_last_resort_handler` catches anything that escapes (on the GUI
thread or a worker thread): it writes a crash report, shows it, saves what
the window holds, and keeps the app running.
"""

from __future__ import annotations

import datetime as _dt
import logging
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Qt, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from allgui.core.errors import Cancelled
from allgui.core.plain_errors import plain_message

log = logging.getLogger("allgui.gui")

__all__ = ["plain_message", "show_error", "LastResortHandler", "write_crash_report"]


def _open_box(box: QMessageBox) -> None:
    box.open()


# Tests replace this to capture dialogs instead of showing them.
present: Callable[[QMessageBox], None] = _open_box


def show_error(
    parent: QWidget | None,
    error: BaseException | str,
    title: str = "allgui",
    details: str = "",
) -> QMessageBox:
    """Show ``error`` in a dialog and log it; returns the (open) dialog."""
    message, more = plain_message(error)
    details = details or more
    if isinstance(error, Cancelled):
        log.info(message)
    else:
        log.error("%s%s", message, f"\n{details}" if details else "")
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Information if isinstance(error, Cancelled) else QMessageBox.Warning)
    box.setWindowTitle(title)
    box.setTextFormat(Qt.PlainText)  # messages name files and classes: never read as markup
    box.setText(message)
    if details:
        box.setDetailedText(details)
    box.setStandardButtons(QMessageBox.Ok)
    box.setAttribute(Qt.WA_DeleteOnClose, True)
    present(box)
    return box


def crash_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.AppLocalDataLocation)
    return Path(base or Path.home() / ".allgui") / "crash-reports"


def write_crash_report(text: str, folder: Path | None = None) -> Path | None:
    """Write ``text`` to a new file under ``folder``; None when even that fails."""
    folder = folder or crash_dir()
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"crash-{stamp}.txt"
        path.write_text(text, encoding="utf-8")
        return path
    except OSError:
        return None


class LastResortHandler(QObject):
    """Shows unhandled exceptions from any thread instead of dying.

    ``save_work`` is called first (it saves the project and window state);
    the report goes to a file under ``folder`` and into a dialog.
    """

    _report = Signal(str)

    def __init__(
        self,
        parent_widget: Callable[[], QWidget | None],
        save_work: Callable[[], None] = lambda: None,
        folder: Path | None = None,
    ) -> None:
        super().__init__()
        self._parent_widget = parent_widget
        self._save_work = save_work
        self._folder = folder
        self._report.connect(self._show)
        self._old_sys = sys.excepthook
        self._old_threading = threading.excepthook
        self.reports: list[Path | None] = []

    def install(self) -> None:
        sys.excepthook = self._sys_hook
        threading.excepthook = self._thread_hook

    def uninstall(self) -> None:
        sys.excepthook = self._old_sys
        threading.excepthook = self._old_threading

    def _sys_hook(self, kind, value, tb) -> None:
        if issubclass(kind, KeyboardInterrupt):
            self._old_sys(kind, value, tb)
            return
        self._report.emit("".join(traceback.format_exception(kind, value, tb)))

    def _thread_hook(self, args) -> None:
        text = "".join(
            traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)
        )
        name = getattr(args.thread, "name", "?")
        self._report.emit(f"In thread {name}:\n{text}")  # queued to the GUI thread

    @Slot(str)
    def _show(self, text: str) -> None:
        try:
            self._save_work()
        except Exception as exc:  # noqa: BLE001 - the report matters more
            text += f"\nSaving the work also failed: {exc!r}"
        path = write_crash_report(text, self._folder)
        self.reports.append(path)
        where = f" A report was saved to {path}." if path else ""
        log.error("Unexpected error (the app keeps running):\n%s", text)
        show_error(
            self._parent_widget(),
            "Something unexpected went wrong. allgui kept your work and keeps running; "
            "you may want to save and restart." + where,
            title="allgui: unexpected error",
            details=text,
        )
