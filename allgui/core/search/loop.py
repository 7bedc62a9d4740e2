"""The one trial loop of a search, for a project's own study and for a study
shared with workers; a policy object says what differs (how the budget is
counted, how a trial is claimed, what runs around it, how the job is named).
Each trial runs in :class:`~allgui.core.search.trial.Trials`.

- Stop (``cancel`` set): the running trial ends at the next batch, and the
  loop ends with one StudyFinished and one JobFinished, 'stopped'.
- A failed trial (CUDA out of memory, a NaN loss) fails that trial, not the
  study: the loop goes on.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import torch

from allgui.core.events import Notice, Sink, StudyFinished, job
from allgui.core.files.text import count
from allgui.core.project import Project
from allgui.core.search import study as S
from allgui.core.search.settings import SearchSettings
from allgui.core.search.storage import mask_url
from allgui.core.search.trial import (  # noqa: F401 - search_train_settings: imported from here too (validation)
    JOB,
    Trials,
    search_train_settings,
)
from allgui.core.train.sources import TrainingData

DONE, WAIT = "done", "wait"  # what a policy's claim() returns when it hands out no trial


class StudyPolicy:
    """What differs between a project's own study and a shared one. The loop
    calls, in order: ``start`` once, then per round ``reached``, ``claim``
    (a trial, ``WAIT`` or ``DONE``), ``wait`` or ``running(trial)`` around
    the trial, and ``ended`` once."""

    study: Any
    recovered = 0  # trials a crash interrupted, queued again before the loop
    run_here: int | None = None  # trials this process ran, when the message should say

    def start(self) -> tuple[str, int]:
        """The job's description and the trials left to run."""
        raise NotImplementedError

    def reached(self) -> bool:
        """The budget is reached before asking (checked before Stop)."""
        return False

    def claim(self) -> Any:
        raise NotImplementedError

    def wait(self, cancel: threading.Event) -> None:
        """Nothing to claim now: wait a little (others still run trials)."""

    def running(self, trial) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def ran(self, trial) -> None:
        """One trial claimed here has ended."""

    def ended(self, stopped: bool, error: BaseException | None) -> None:
        """The loop is over (finished, stopped or failed)."""


def run_trials(policy: StudyPolicy, project: Project, settings: SearchSettings,
               data: TrainingData, device: torch.device, sink: Sink,
               cancel: threading.Event, started: float) -> S.SearchResult:
    """Run trials until the policy has none left or ``cancel`` is set; one
    JobStarted, one StudyFinished and one JobFinished whatever happens."""
    description, left = policy.start()
    trials = Trials(project, settings, data, device, sink, cancel)
    with job(sink, JOB, description, total=left) as handle:
        for text in settings.warnings():
            sink(Notice(JOB, level="warning", text=text))
        sink(Notice(JOB, level="info", text=settings.augmentation_words()))
        stopped = False
        error: BaseException | None = None
        try:
            if left > 0 and not trials.prepare_backbone():
                stopped = True
            while not stopped and not policy.reached():
                if cancel.is_set():
                    stopped = True
                    break
                trial = policy.claim()
                if trial == DONE:
                    break
                if trial == WAIT:
                    policy.wait(cancel)
                    continue
                with policy.running(trial):
                    ok = trials.run(policy.study, trial)
                policy.ran(trial)
                stopped = not ok
        except BaseException as exc:
            error = exc
            stopped = isinstance(exc, KeyboardInterrupt)
            raise
        finally:
            policy.ended(stopped, error)
            result = S.search_result(project, settings, policy.study, stopped, policy.recovered,
                                     time.perf_counter() - started, trials.backbones.features_s)
            best = result.best
            sink(StudyFinished(JOB, best_number=best.number if best else None,
                               best_value=best.value if best else None,
                               n_complete=result.n_complete, n_pruned=result.n_pruned,
                               n_failed=result.n_failed, stopped=stopped,
                               n_stopped=result.n_stopped))
            handle.finish(end_message(result, stopped, error, policy.run_here),
                          "stopped" if stopped else "error" if error is not None else "ok",
                          ok=error is None or stopped)
    return result


def end_message(result: S.SearchResult, stopped: bool, error: BaseException | None,
                run_here: int | None = None) -> str:
    """How a search ended, in words; storage URLs in an error's text are masked."""
    if error is not None and not stopped:
        from allgui.core.plain_errors import database_connection_lost, plain_message

        if database_connection_lost(error):
            return plain_message(error)[0]
        return f"The search ended on an error: {mask_url(str(error))}"
    here = f"{count(run_here, 'trial')} run here; " if run_here is not None else ""
    return (("Stopped; " if stopped else "Finished; ") + here
            + f"trials in the study: {result.counts()}.")
