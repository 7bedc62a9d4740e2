"""Which process writes a running batch, and whether it has certainly ended.

A running batch records its writer (PID, host, start time) in batch.json, so
that a reader can tell a batch still running from one whose process was
killed (``kill -9``, a power cut): the latter reads as 'interrupted'.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from allgui.core.search.liveness import process_started, same_process


def this_process() -> dict[str, Any]:
    """What batch.json records of the process writing it."""
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "started": process_started(pid)}


def process_gone(process: dict[str, Any]) -> bool:
    """Whether the recorded writer has certainly ended: it ran on this computer
    and its PID is free or now another process's (a later start time). Another
    computer's process, or none recorded, cannot be told: not gone."""
    if not process or process.get("host") != socket.gethostname():
        return False
    return not same_process(int(process.get("pid") or 0), process.get("started"))
