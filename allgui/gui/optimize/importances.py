"""The Optimize tab's parameter importances: computed off the GUI thread from
the study the session has selected, shown only for that study."""

from __future__ import annotations

from typing import Any

from allgui.gui.optimize.work import compute_importances

IMPORTANCE_EVERY = 2  # recompute importances after this many more complete trials


class ImportancesMixin:
    """Mixed into the Optimize tab (which has ``book``, ``plots``, ``project``,
    ``session``, ``start_job`` and ``log``)."""

    importance_job: Any = None
    _importance_at = 0
    _then: Any = None  # what waits for the importances being computed

    def _maybe_importances(self, force: bool = False) -> None:
        t: Any = self
        n = len(t.book.complete())
        if t.project is None or n < 3 or self.importance_job is not None:
            return
        if not force and (n < self._importance_at + IMPORTANCE_EVERY
                          or not t.plots.importance.isVisible()):
            # Mid-search only for eyes that look: the computation reads the whole
            # study and competes with the search and the window for the processor.
            return
        self._importance_at = n
        study = t.session.study
        self.importance_job = t.start_job(
            "Importances",
            compute_importances, t.project, study,
            on_event=lambda event: self._importance_progress(event, study),
            on_success=lambda imp: self._show_importances(imp, study),
            on_failure=lambda exc: self._importance_failed(exc, study),
            on_done=self._importance_done,
        )

    def _importance_shown(self) -> None:
        t: Any = self
        if len(t.book.complete()) != self._importance_at:
            self._maybe_importances(force=True)

    def _importance_progress(self, event: Any, study: str = "") -> None:
        """Each step of the estimate in words under the plot: fANOVA over many
        trials takes a while, and a still plot would look stuck."""
        t: Any = self
        message = getattr(event, "message", "")
        if message and (not study or study == t.session.study):
            t.plots.importance_words.setText(f"Computing importances: {message}…")

    def _importance_failed(self, exc: BaseException, study: str = "") -> None:
        t: Any = self
        if study and study != t.session.study:
            return  # another study is shown now
        t.plots.importances = {}
        t.plots.importance_words.setText("")
        t.plots.importance_note = getattr(exc, "message", str(exc))
        t.plots.importance.request_redraw()
        t.log(f"Importances: {t.plots.importance_note}")

    def _importance_done(self) -> None:
        self.importance_job = None
        then, self._then = self._then, None
        if then is not None:
            then()

    def after_importances(self, then) -> None:
        """Call ``then`` once the importances being computed are in (now if none are)."""
        if self.importance_job is None:
            then()
        else:
            self._then = then

    def _show_importances(self, imp, study: str = "") -> None:
        t: Any = self
        if study and study != t.session.study:
            return
        t.plots.importances = imp.as_dict()
        t.plots.importance_spread = imp.spread()
        t.plots.importance_ped = imp.ped_anova()
        t.plots.importance_method = imp.method_label
        t.plots.importance_note = ""
        t.plots.importance_words.setText("\n".join(imp.warnings))
        t.plots.importance.request_redraw()
