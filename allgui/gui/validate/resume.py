"""Continuing a validation batch that did not end: the project's batch that
misses a run, read off the GUI thread, and the Run button's words saying
whether pressing it continues that batch or starts a new one."""

from __future__ import annotations

from allgui.core.files.text import count
from allgui.gui.jobs import stateless
from allgui.gui.validate.work import read_resumable


class ResumeOffer:
    """Mixed into the Validate tab (which has the form's ``configuration``,
    ``runs``, ``epochs``, ``baseline``, ``params`` and ``run_button``, and
    ``project``, ``start_job`` and ``resumable``: the project's batch that did
    not end and misses a run)."""

    def _read_resumable(self) -> None:
        project = self.project
        if project is not None:
            self.start_job("Reading validation runs", stateless(read_resumable), project,
                           on_success=lambda b: project is self.project and self._set_resumable(b),
                           on_failure=lambda exc: None)  # nothing to continue, as without one

    def _set_resumable(self, batch) -> None:
        self.resumable = batch
        self._show_resume()

    def _continues(self, batch) -> bool:
        """Whether the form asks for what ``batch`` was started with (the engine
        decides in the end, on every setting, as ``allgui validate`` does)."""
        trial = self.configuration.currentData()
        return (self.runs.value() == len(batch.seeds) and self.epochs.value() == batch.max_epochs
                and (self.baseline.currentData() != "none") == (batch.baseline is not None)
                and (not self.params.text().strip()) == (batch.tuned.trial is not None)
                and (trial is None or trial == batch.tuned.trial))

    def _show_resume(self) -> None:
        """"Resume validation (k of n done)" when pressing the button continues
        the stopped batch; else what it would take to continue it."""
        from allgui.core.validation.resume import expected_runs

        b = self.resumable
        if b is None:
            self.run_button.setText("Run validation")
            self.run_button.setToolTip("Train and test the chosen configuration; a batch that "
                                       "stops can be continued later")
            return
        done, total = sum(r.finished for r in b.runs), expected_runs(b)
        if self._continues(b):
            self.run_button.setText(f"Resume validation ({done} of {total} done)")
            self.run_button.setToolTip(
                f"Continue batch {b.batch_id} ({b.state}): its {count(done, 'finished run')} "
                "are kept and only the others run")
        else:
            self.run_button.setText("Run validation (new batch)")
            self.run_button.setToolTip(
                f"Batch {b.batch_id} ({b.state}, {done} of {total} runs done) continues with its "
                f"own settings: {count(len(b.seeds), 'run')} of up to "
                f"{count(b.max_epochs, 'epoch')}"
                + (", with a baseline" if b.baseline else ", no baseline")
                + ". These settings start a new batch.")
