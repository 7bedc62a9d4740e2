"""Evaluate on other data: the Validate tab's window for external validation,
the window's ``allgui evaluate MODEL LABELLED_FOLDER``.

Choose an exported model (the project's by default; any allgui .onnx file)
and labelled images from another source (class folders, or a manifest CSV
``path,label[,patient]``); the engine scores them on a job's thread, with
progress and Stop, nothing trained. The result shows what the engine used
(model file, images, when) and every figure with its interval; the report
goes to the folder the command line would use, never over an input, and
over an earlier report only when the user agrees. A failure is a plain
message and leaves the result shown before, and every file, as they were.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QVBoxLayout,
)

from allgui.core.errors import AllguiError, Cancelled
from allgui.core.files.text import terminal_text
from allgui.core.plain_errors import plain_message
from allgui.gui import dialogs, errors
from allgui.gui.jobs import JobManager, JobsMixin, stateless
from allgui.gui.validate.evaluate_inputs import EvaluationInputs
from allgui.gui.validate.evaluate_view import EvaluationView
from allgui.gui.validate.evaluate_work import (
    Evaluation,
    evaluate_in_window,
    free_folder,
    summary_text,
    used_text,
    write_report_in_window,
)
from allgui.gui.widgets.elided import ElidedLabel
from allgui.gui.widgets.progress import JobProgress


def open_url(url: QUrl) -> bool:
    """The desktop's viewer for a file or folder (tests replace it)."""
    return QDesktopServices.openUrl(url)


class EvaluationDialog(EvaluationInputs, JobsMixin, QDialog):
    """One external validation at a time; its job is this window's own."""

    def __init__(self, tab) -> None:
        super().__init__(tab)
        self.tab = tab
        self.job = None
        self.resamples = 1000
        self.model_path = ""
        self.model_chosen = False  # by the user; else the project's model, as it changes
        self.data_path = ""
        self.folder_path = ""  # chosen by the user; '' for the default beside the images
        self.evaluation: Evaluation | None = None
        self.report_files: dict[str, Path] | None = None
        self._to_write: tuple[Evaluation, str, bool] | None = None
        self._pending: tuple[str, bool] = ("", False)  # the report's folder, replace
        self._made_folder: Path | None = None  # made for the report: removed if it stays empty
        self.setWindowTitle("Evaluate on other data")
        self.resize(940, 720)
        self.setMinimumSize(560, 480)
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_inputs())
        self.progress = JobProgress()
        self.progress.stop_requested.connect(self.stop)
        layout.addWidget(self.progress)
        shown = QGroupBox("Result")
        shown_layout = QVBoxLayout(shown)
        self.used_label = self._plain("Nothing evaluated yet. Choose the model file and the "
                                      "labelled images, then press Evaluate.")
        self.used_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.summary_label = self._plain("")
        shown_layout.addWidget(self.used_label)
        shown_layout.addWidget(self.summary_label)
        self.view = EvaluationView()
        shown_layout.addWidget(self.view, 1)
        self.report_label = ElidedLabel("", Qt.ElideMiddle)
        shown_layout.addWidget(self.report_label)
        layout.addWidget(shown, 1)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open report")
        self.open_button.setToolTip("Open evaluation.html in the web browser")
        self.open_button.clicked.connect(self.open_report)
        self.folder_button = QPushButton("Open report folder")
        self.folder_button.clicked.connect(self.open_report_folder)
        self.write_button = QPushButton("Write report to…")
        self.write_button.setToolTip("Write this result's report to another folder")
        self.write_button.clicked.connect(self.choose_report_copy)
        close = QDialogButtonBox(QDialogButtonBox.Close)
        close.rejected.connect(self.reject)
        for w in (self.open_button, self.folder_button, self.write_button):
            buttons.addWidget(w)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        self.job_changed()

    # -- what JobsMixin needs -------------------------------------------------------------
    @property
    def job_manager(self) -> JobManager:  # type: ignore[override]
        return self.tab.job_manager

    def show_error(self, error: BaseException | str, title: str = "allgui") -> None:
        errors.show_error(self, error, title)

    # -- running -------------------------------------------------------------------------
    def job_changed(self) -> None:
        running = self.job is not None
        for w in (self.model_button, self.classes_button, self.manifest_button,
                  self.change_folder_button, self.evaluate_button):
            w.setEnabled(not running)
        written = self.report_files is not None and not running
        self.open_button.setEnabled(written)
        self.folder_button.setEnabled(written)
        self.write_button.setEnabled(self.evaluation is not None and not running)

    def _target(self, folder: Path, model: str, data: str) -> tuple[Path, bool] | None:
        """Where the report goes, and whether it replaces an earlier one (asked);
        None, having said why, when it cannot go there."""
        from allgui.core.report.external import check_report_folder, earlier_report

        replace = False
        old = earlier_report(folder)
        if old:
            other = free_folder(folder)
            replace = dialogs.ask_yes_no(self, "An earlier report", (  # plain text: names as they are
                f"{terminal_text(folder)} already holds an earlier report ("
                + ", ".join(terminal_text(p.name) for p in old) + ").\n\nReplace it?\n\n"
                f"No keeps it, and writes this report to {terminal_text(other)} instead."))
            if not replace:
                folder = other
        made = not folder.exists()
        try:
            check_report_folder(folder, model, data, replace=replace)
        except AllguiError as exc:
            self.show_error(exc, "The report cannot go there")
            return None
        self._made_folder = folder if made else None
        return folder, replace

    def start(self) -> None:
        """Evaluate the chosen model on the chosen images, then write the report."""
        if self.job_refused("evaluating", exclusive=False,
                            if_busy="The evaluation is running; wait for it or stop it first."):
            return
        model, data = self.model_path, self.data_path
        missing = [what for what, path in (("the model file", model),
                                           ("the labelled images", data)) if not path]
        if missing:
            self.show_error(" and ".join(missing).capitalize() + " must be chosen first.",
                            "Nothing to evaluate")
            return
        for path, what in ((model, "The model file"), (data, "The labelled images")):
            if not Path(path).exists():
                self.show_error(f"{what} {terminal_text(path)} no longer exists; choose "
                                "it again.", "Nothing to evaluate")
                return
        target = self._target(self.report_folder() or Path(data), model, data)
        if target is None:
            return
        self._to_write = None
        self._pending = (str(target[0]), target[1])
        self._clear_result(f"Evaluating {terminal_text(Path(model).name)} on "
                           f"{terminal_text(Path(data).name)}: the result shows here when it "
                           "ends.")
        self.run_job("Evaluating on other data", evaluate_in_window, model, data,
                     self.resamples, text=f"Evaluating {terminal_text(Path(model).name)} on "
                     f"{terminal_text(Path(data).name)}…", on_success=self._evaluated,
                     on_failure=self._failed)
        self.tab.log(f"Evaluating {model} on {data}")

    def _clear_result(self, words: str) -> None:
        """A new evaluation runs: the last one's figures leave the view (they
        come back if this one fails)."""
        self.used_label.setText(words)
        self.summary_label.setText("")
        self.summary_label.setToolTip("")
        self.view.hide()
        self.report_label.setText("")

    def _show_result(self, ev: Evaluation) -> None:
        self.used_label.setText(used_text(ev))
        self.summary_label.setText(summary_text(ev))
        self.summary_label.setToolTip(self.view.skipped_tip(ev) if ev.result.skipped else "")
        self.view.show_evaluation(ev)
        self.view.show()
        files = self.report_files
        self.report_label.setText(f"Report: {terminal_text(files['html'])}" if files else
                                  "No report written yet: use 'Write report to…'.")

    def _evaluated(self, ev: Evaluation) -> None:
        self.evaluation, self.report_files = ev, None
        self._show_result(ev)
        self.report_label.setText("The report is being written…")
        self.progress.set_running(False, "Evaluated; writing the report…")
        self._to_write = (ev, *self._pending)
        self.tab.log(f"Evaluated {ev.model} on {ev.data}: {summary_text(ev)}")

    def _failed(self, exc: BaseException) -> None:
        self._remove_empty_folder()
        kept = (" The result shown before is kept." if self.evaluation is not None else "")
        if self.evaluation is not None:
            self._show_result(self.evaluation)
        else:
            self.used_label.setText("Nothing evaluated.")
        stopped = isinstance(exc, Cancelled)
        self.progress.set_running(False, ("Stopped: nothing was evaluated or written."
                                          if stopped else "The evaluation did not finish.")
                                  + kept, done=False)
        if stopped:
            self.tab.log("Evaluation stopped; nothing was written.")
            return
        message, details = plain_message(exc)
        self.show_error(AllguiError(message + kept, details), "The evaluation could not be done")

    def _remove_empty_folder(self) -> None:
        """The report folder made for a run that ended without a report: removed
        when nothing is in it (rmdir never removes a folder that holds a file)."""
        folder, self._made_folder = self._made_folder, None
        if folder is not None:
            with contextlib.suppress(OSError):
                folder.rmdir()

    def job_ended(self) -> None:
        if self._to_write is not None:
            ev, folder, replace = self._to_write
            self._to_write = None
            self._write(ev, folder, replace)

    def _write(self, ev: Evaluation, folder: str, replace: bool) -> None:
        self.run_job("Writing the evaluation report", stateless(write_report_in_window), ev, folder,
                     replace, text="Writing the report…", on_success=self._written,
                     on_failure=self._write_failed)

    def _written(self, files: dict[str, Path]) -> None:
        self._made_folder = None
        self.report_files = files
        self.report_label.setText(f"Report: {terminal_text(files['html'])}")
        self.progress.set_running(False, "Evaluated; report written.")
        self.tab.log(f"External validation report written: {files['html']}")

    def _write_failed(self, exc: BaseException) -> None:
        self._remove_empty_folder()
        self.report_label.setText("No report written yet: use 'Write report to…'.")
        self.progress.set_running(False, "Evaluated; the report was not written.", done=False)
        message, details = plain_message(exc)
        self.show_error(AllguiError(
            f"The evaluation finished and is shown here, but its report was not written: "
            f"{message} Choose another folder with 'Write report to…'.", details),
            "The report was not written")

    def choose_report_copy(self) -> None:
        if self.evaluation is None or self.job is not None:
            return
        folder = self.report_folder()
        path = dialogs.choose_directory(self, "Choose the folder for the report",
                                        str(folder.parent if folder else ""))
        if path:
            self.write_report_to(path)

    def write_report_to(self, path: str) -> None:
        ev = self.evaluation
        if ev is None or self.job is not None:
            return
        target = self._target(Path(path), ev.model, ev.data)
        if target is not None:
            self._write(ev, str(target[0]), target[1])

    # -- the report ----------------------------------------------------------------------
    def open_report(self) -> None:
        if self.report_files is not None:
            open_url(QUrl.fromLocalFile(str(self.report_files["html"])))

    def open_report_folder(self) -> None:
        if self.report_files is not None:
            open_url(QUrl.fromLocalFile(str(self.report_files["html"].parent)))


def evaluate_button(tab) -> QPushButton:
    """The Validate tab's button that opens this window."""
    button = QPushButton("Evaluate on other data…")
    button.setToolTip("An exported model on labelled images from another source, without "
                      "training (external validation)")
    button.clicked.connect(lambda: open_evaluation(tab))
    return button


def open_evaluation(tab) -> EvaluationDialog:
    """Show the tab's evaluation window (one per tab, kept with its result and
    its job while hidden), with the project's model when none was chosen."""
    dialog = tab.evaluation
    if dialog is None:
        dialog = tab.evaluation = EvaluationDialog(tab)
    dialog.refresh_default_model()
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
