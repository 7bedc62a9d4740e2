"""The log panel's feed: allgui's and Optuna's log records, and the engine
events of every job, as lines on the GUI thread."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, Signal

from allgui.core.events import JobFinished, JobStarted, Notice

log = logging.getLogger("allgui.gui")
LOGGERS = ("allgui", "optuna")


class LogRelay(QObject, logging.Handler):
    """A logging handler that re-emits each record as a line, from any thread
    (the signal crosses into the GUI thread queued)."""

    line = Signal(str)

    def __init__(self) -> None:
        QObject.__init__(self)
        logging.Handler.__init__(self, logging.INFO)
        self.setFormatter(logging.Formatter("%(asctime)s  %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:  # logging.Handler.emit
        try:
            self.line.emit(self.format(record))
        except RuntimeError:  # the panel is gone (window closed)
            pass

    def install(self) -> None:
        for name in LOGGERS:
            logging.getLogger(name).addHandler(self)
        logging.getLogger("allgui").setLevel(logging.INFO)

    def uninstall(self) -> None:
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(self)


def log_event(event: Any) -> None:
    """What a job's events say in the log: notices, and how each job began and ended."""
    if isinstance(event, Notice):
        level = {"warning": logging.WARNING, "error": logging.ERROR}.get(event.level, logging.INFO)
        log.log(level, event.text)
    elif isinstance(event, JobStarted) and event.description:
        log.info(event.description)
    elif isinstance(event, JobFinished) and event.message:
        log.log(logging.INFO if event.ok else logging.WARNING, event.message)
