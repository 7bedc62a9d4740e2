"""The Optimize tab's search as it runs: each event into the trial book,
the plots and table told what changed, and the progress line counting trials
(with the running trial's epochs) and the time left at the trials' pace."""

from __future__ import annotations

from typing import Any

from allgui.core.events import (
    EpochEnded,
    Event,
    JobStarted,
    Progress,
    StudyFinished,
    TrialFailed,
    TrialFinished,
    TrialPruned,
    TrialStarted,
)
from allgui.core.search.settings import SEARCH_JOB
from allgui.gui.widgets.progress import format_duration


class LiveSearch:
    """Mixed into the Optimize tab (which has ``book``, ``plots``, ``progress``,
    ``study_picker``, ``study_label``, ``session`` and ``clock``)."""

    _trials_done = 0
    _remaining = 0
    _trial_part = 0.0
    _trials_began: Any = None
    study_started = 0.0

    def on_event(self, event: Event) -> None:
        number = self.book.apply(event)
        # Only the search's own events move the study's bar: the data's preparation
        # (a job of 800 images) once set it to 0 of 800 and held it there.
        ours = event.job == SEARCH_JOB
        if isinstance(event, JobStarted) and event.total is not None and ours:
            self._remaining = event.total
            self._trials_done = 0
            self._show_study_progress()  # from 0, not the last phase's 100 %
        if isinstance(event, Progress) and event.phase != "features" and ours:
            self._show_study_progress()  # the bar counts trials, not a trial's epochs
        if (isinstance(event, EpochEnded) and event.trial is not None and event.epochs
                and event.trial == self.book.running):
            self._trial_part = min(1.0, event.epoch / event.epochs)
            self._show_study_progress()
        if isinstance(event, (TrialFinished, TrialPruned, TrialFailed)):
            self._trial_part = 0.0
            if not (isinstance(event, TrialFailed) and self.book.trials[event.number].state
                    == "stopped"):
                self._trials_done = getattr(self, "_trials_done", 0) + 1
            self._show_study_progress()
            self._show_searching()
            self.plots.history.request_redraw()
            self.plots.parallel.request_redraw()
            self.plots.slice.plot.request_redraw()  # hidden plots cost nothing until shown
            self.plots.contour.plot.request_redraw()
            self._maybe_importances()
        if isinstance(event, TrialStarted):
            if self._trials_began is None:  # the features' time is not a trial's
                self._trials_began = self.clock()
            self._trial_part = 0.0
            done, total = getattr(self, "_trials_done", 0), getattr(self, "_remaining", 0)
            self.progress.label.setText(f"Trial {event.number} ({done + 1} of {total} to run)"
                                        if total else f"Trial {event.number}")
            self.plots.curve_trial = None
            self._show_study_progress()  # the features' 100 % is not the study's
        if isinstance(event, StudyFinished):
            self.plots.refresh()
        if number is not None:
            self._show_trial(number)
            self.plots.curves.request_redraw()

    def _show_searching(self) -> None:
        """The study line while the search runs: what is done so far."""
        done = self.book.complete()
        self.study_picker.show_searching(self.session.study, len(done))
        best = max(done, key=lambda t: t.value if self.plots.maximize else -t.value, default=None)
        self.study_label.setText(
            f"Study '{self.session.study}': searching; {len(done)} complete so far"
            + (f", best {best.value:.4f} (trial {best.number})" if best else ""))

    def _show_study_progress(self) -> None:
        done = getattr(self, "_trials_done", 0)
        total = getattr(self, "_remaining", 0)
        if not total:
            return
        # The trials' pace so far, counting the running trial's epochs done, so
        # that the estimate falls as the last trial goes on instead of standing
        # at a whole trial until it ends.
        began = self._trials_began if self._trials_began is not None else self.study_started
        progress = done + self._trial_part
        left = (self.clock() - began) / progress * (total - progress) if progress else 0
        self.progress.bar.setRange(0, total)
        self.progress.bar.setValue(min(done, total))
        self.progress.eta.setText(f"study: about {format_duration(left)} left"
                                  if 0 < progress < total else "")

