"""The Validate tab's progress line follows the batch's phase (issue 26,
walkthrough): "Computing backbone features…" stayed beside a full bar while
the run trained its epochs. Words and bar now come from the same event."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def test_the_words_follow_the_phase_the_bar_shows(window):
    from allgui.core.events import EpochEnded, Progress, RunFinished

    tab = window.validate_tab
    progress = tab.progress
    progress.set_running(True, "Preparing the data…")  # as run_job starts a batch

    def deliver(event) -> None:  # as run_job's sink hands every event on
        progress.on_event(event)
        tab.on_event(event)

    deliver(Progress("validation", phase="runs", done=0, total=2, message="Run 1 of 2 (seed 0)"))
    deliver(Progress("fit", phase="features", done=8, total=8,
                     message="Computing backbone features once for all epochs"))
    assert "backbone features" in progress.label.text()
    assert progress.bar.value() == progress.bar.maximum() == 8
    deliver(EpochEnded("fit", run=1, epoch=1, epochs=3))
    words = progress.label.text()
    assert "backbone" not in words and "Run 1 of 2" in words and "epoch 1 of 3" in words
    assert (progress.bar.value(), progress.bar.maximum()) == (1, 3)
    deliver(EpochEnded("fit", run=1, epoch=3, epochs=3))
    assert "epoch 3 of 3" in progress.label.text()
    deliver(RunFinished("validation", run=1, seed=0, label="tuned"))
    assert "1 of 2 runs finished" in progress.label.text()
    assert (progress.bar.value(), progress.bar.maximum()) == (1, 2)
    progress.set_running(False, "")
