"""The command line's progress: tqdm's bars on a terminal, plain lines in a
log, each with done of total, time elapsed and left, and the rate."""

from __future__ import annotations

import io
import re

from allgui.cli.optimize import SearchPrinter
from allgui.cli.progress_printer import ProgressPrinter
from allgui.core.events import (
    EpochEnded,
    JobFinished,
    Notice,
    Progress,
    TrialFinished,
    TrialStarted,
)

# "[00:01<00:04, 2.50 images/s]": elapsed < time left, rate (tqdm's format)
FIGURES = re.compile(r"\[\d\d:\d\d<(\d\d:\d\d|\?), (\d+\.\d+|\?)\s?[\w ]*/s\]")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _phase(printer, total=10, phase="caching images"):
    for done in range(total + 1):
        printer(Progress("job", phase=phase, done=done, total=total))
    printer(JobFinished("job"))


def test_a_log_gets_lines_with_rate_and_time_left_and_no_carriage_return():
    log = io.StringIO()
    _phase(ProgressPrinter(log, every_s=0.0, unit=" images"))
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert lines[-1].startswith("  caching images: 10/10 [") and FIGURES.search(lines[-1])
    assert all(FIGURES.search(line) for line in lines)


def test_a_terminal_gets_one_bar_per_phase_with_rate_and_time_left():
    screen = Terminal()
    printer = ProgressPrinter(screen)
    _phase(printer, phase="hashing")
    printer(Notice("job", level="warning", text="two files are the same image"))
    _phase(printer, phase="decoding")
    text = screen.getvalue()
    assert "\r" in text  # redrawn in place
    assert re.search(r"hashing: 100%\|.*\| 10/10 \[", text)
    assert re.search(r"decoding: 100%\|.*\| 10/10 \[", text)
    assert "warning: two files are the same image\n" in text
    assert text.index("hashing") < text.index("warning:") < text.index("decoding")


def test_quiet_shows_only_what_the_user_must_read():
    log = io.StringIO()
    printer = ProgressPrinter(log, quiet=True, every_s=0.0)
    _phase(printer)
    printer(Notice("job", level="error", text="disk full"))
    assert log.getvalue() == "error: disk full\n"


def test_the_search_prints_each_trial_and_its_epochs_with_time_left():
    log = io.StringIO()
    printer = SearchPrinter(epochs=3, stream=log)
    printer.every_s = 0.0
    printer(TrialStarted("search", number=0, params={"dropout": 0.25}))
    for epoch in (1, 2, 3):
        printer(EpochEnded("search", trial=0, epoch=epoch, epochs=3, train_loss=0.5,
                           val_loss=0.4, val_accuracy=0.8, objective=0.8))
    printer(TrialFinished("search", number=0, value=0.8, duration_s=1.5, epochs_run=3))
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("trial #0 (1): dropout=")
    epochs = [line for line in lines if line.startswith("  epochs: ")]
    assert [line.split()[1] for line in epochs] == ["1/3", "2/3", "3/3"]
    assert all(FIGURES.search(line) and "objective 0.8000" in line for line in epochs)
    assert lines[-1].startswith("  done: 0.8000 (epoch 1")
