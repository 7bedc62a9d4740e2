"""The Optimize tab's view of a study shared with workers: every worker's
trials as the storage holds them (read by the StudyFollower), for the study
the session has selected only."""

from __future__ import annotations

from typing import Any

from allgui.core.errors import AllguiError
from allgui.gui.optimize.follow import ask_storage, describe_workers


def study_words(r) -> str:
    """A study's counts in words: stopped trials apart from failed ones."""
    return (r.counts()
            + (f"; best {r.best.value:.4f} (trial {r.best.number})" if r.best else ""))


class FollowedMixin:
    """Mixed into the Optimize tab (``book``, ``plots``, ``job``, ``session``...)."""

    def _show_storage(self) -> None:
        from allgui.core.search.storage import mask_url

        project = self.project
        self.storage_label.setText(
            "" if project is None else mask_url(project.settings.storage)
            or "this project's study.db")
        self.storage_button.setEnabled(project is not None and self.job is None)

    def _change_storage(self) -> None:
        if self.project is None or self.job is not None:
            return
        try:
            url = ask_storage(self, self.project)
        except AllguiError as exc:
            self.show_error(exc, "The study storage cannot be used")
            return
        if url is None:
            return
        self.project.update(storage=url)
        self.project_changed(self.project)
        self.log(f"Study storage: {self.storage_label.text()}")


    def _followed(self, snap) -> None:
        """Every worker's trials as the shared study holds them."""
        tab: Any = self
        if tab.project is None or snap.result.study_name != tab.session.study:
            return
        changed = False
        for t in snap.result.trials:
            if tab.job is not None and t.number == tab.book.running and t.state == "running":
                continue  # this window's own trial: its events are finer
            rec = tab.book.record(t.number)
            new = ("stopped" if t.stopped else t.state, t.value, dict(t.params), t.duration_s, t.reason, t.worker)
            if new != (rec.state, rec.value, rec.params, rec.duration_s, rec.reason, rec.worker):
                rec.state, rec.value, rec.params, rec.duration_s, rec.reason, rec.worker = new
                tab._show_trial(t.number)
                changed = True
            if not rec.curve and t.number in snap.curves:  # another worker's learning curve
                rec.curve = list(snap.curves[t.number])
                changed = True
        if changed:
            tab.plots.curves.request_redraw()
            tab.plots.history.request_redraw()
            tab.plots.parallel.request_redraw()
            tab.plots.slice.plot.request_redraw()
            tab.plots.contour.plot.request_redraw()
            tab._maybe_importances()
        r = snap.result
        running = sum(t.state == "running" for t in r.trials)
        if tab.job is None:
            tab.study_label.setText(
                f"Study '{r.study_name}' (shared, budget {snap.budget}): {study_words(r)}; "
                f"{running} running")
        tab.workers_label.setText(describe_workers(snap))
        tab.workers_label.setVisible(True)
