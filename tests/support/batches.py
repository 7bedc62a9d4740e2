"""Validation batches as Ctrl+C leaves them, for the tests that continue one."""

from __future__ import annotations

import pytest

from allgui.core.events import EpochEnded
from allgui.core.validation.batch import Batch, latest_batch
from allgui.core.validation.run import run_batch


def interrupted_in_run(project, settings, prepared, run: int = 2) -> Batch:
    """The batch as saved after Ctrl+C while run ``run`` trains, started with
    ``resume=True`` as the command line starts it."""

    def sink(event):
        if isinstance(event, EpochEnded) and event.run == run:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(project, settings, sink=sink, prepared=prepared, resume=True)
    batch = latest_batch(project)
    assert batch is not None
    return batch
