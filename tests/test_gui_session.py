"""The window tells the truth: one session model that every tab shows and
uses (issue 14). Each test is one case a new user met by clicks."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QTextDocumentFragment, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTableWidget,
)

from allgui.core.events import EpochEnded, JobStarted, TrialStarted
from allgui.core.project import Project

from support.gui import open_demo, tiny_search_form, wait_jobs, wait_until

pytestmark = pytest.mark.gui


def choose(combo, key) -> None:
    combo.setCurrentIndex(combo.findData(key))


def texts_on_screen(window) -> list[str]:
    """Every text a person can read in the window now, but the log (a history)."""
    out = [window.windowTitle()]
    for kind in (QLabel, QLineEdit, QPlainTextEdit, QComboBox, QTableWidget):
        for w in window.findChildren(kind):
            if not w.isVisibleTo(window) or w is window.log_view:
                continue
            if isinstance(w, QLabel):  # rich text read as a person reads it
                out.append(QTextDocumentFragment.fromHtml(w.text()).toPlainText()
                           if w.textFormat() != Qt.PlainText else w.text())
            elif isinstance(w, QLineEdit):
                out.append(w.text())
            elif isinstance(w, QPlainTextEdit):
                out.append(w.toPlainText())
            elif isinstance(w, QComboBox):
                out.append(w.currentText())
            else:
                out += [w.item(r, c).text() for r in range(w.rowCount())
                        for c in range(w.columnCount()) if w.item(r, c) is not None]
    return out


# -- the split: what the form shows is applied, or says it is not -------------------------------


def test_a_split_not_applied_is_shown_and_nothing_starts_on_it(window, qtbot, tmp_path, captured,
                                                                make_demo_project):
    project = open_demo(window, qtbot, tmp_path / "demo", make_demo_project)
    tab = window.dataset_tab
    choose(tab.method, "image")
    tab.apply_split()
    wait_jobs(qtbot, window)
    assert Project.open(project.root).settings.split.method == "image"
    assert not tab.unapplied_label.isVisible()
    choose(tab.method, "patient")  # chosen, not applied
    assert tab.unapplied_label.isVisible() and "Not applied" in tab.unapplied_label.text()
    assert "the project uses by image" in tab.unapplied_label.text()
    assert window.session.split.method == "image"
    assert "split by image" in window.project_label.text()  # what the engine uses
    window.optimize_tab.start()
    assert window.optimize_tab.job is None and "Apply or discard" in captured.errors[-1][0]
    window.validate_tab.start()
    assert window.validate_tab.job is None and "Apply or discard" in captured.errors[-1][0]
    tab.discard_split()
    assert tab.method.currentData() == "image" and not tab.unapplied_label.isVisible()
    assert window.session.unapplied() == []


def test_no_text_on_screen_names_a_split_study_or_dataset_the_engine_does_not_use(
        window, qtbot, tmp_path, captured, make_demo_project):
    first = open_demo(window, qtbot, tmp_path / "alpha", make_demo_project)
    window.optimize_tab.pick_study("alpha-study")
    second = make_demo_project(tmp_path / "beta")
    second.update(search={"study_name": "beta-study"})
    window.open_project(second.root)
    wait_until(lambda: window.dataset_tab.view is not None, 60_000)
    wait_jobs(qtbot, window)
    choose(window.dataset_tab.method, "image")  # not applied
    session = window.session
    shown = "\n".join(texts_on_screen(window))
    assert session.study == "beta-study" and "alpha-study" not in shown
    assert str(first.root) not in shown and first.settings.dataset.path not in shown
    assert second.settings.dataset.path in shown and session.describe() in shown
    # The split form says "image" while the engine uses "patient": only with the warning.
    assert session.split.method == "patient"
    assert window.dataset_tab.unapplied_label.isVisibleTo(window)
    assert "the project uses by patient" in window.dataset_tab.unapplied_label.text()
    assert window.optimize_tab.study_name.text() == "beta-study"
    assert window.optimize_tab.study_picker.currentData() == "beta-study"


# -- studies: picked, never mixed ------------------------------------------------------------


def test_two_studies_are_never_mixed_in_one_view(window, qtbot, tmp_path, captured,
                                                 make_demo_project):
    project = open_demo(window, qtbot, tmp_path / "demo", make_demo_project)
    tab = window.optimize_tab
    tiny_search_form(tab, trials=2, epochs=1)
    tab.start()
    wait_jobs(qtbot, window, timeout=120_000)
    assert not captured.errors, captured.errors
    assert tab.trials_table.rowCount() == 2
    tab.study_name.setText("narrow-lr")  # typing another name switches the view
    tab.study_name.editingFinished.emit()
    assert window.session.study == "narrow-lr"
    assert tab.trials_table.rowCount() == 0 and not tab.book.trials
    assert "no trial yet" in tab.study_label.text()
    tab.trials.setValue(1)
    tab.start()
    wait_jobs(qtbot, window, timeout=120_000)
    assert not captured.errors, captured.errors
    assert tab.result.study_name == "narrow-lr" and tab.trials_table.rowCount() == 1
    assert set(tab.book.trials) == {0} and tab.result.best.number == 0
    assert Project.open(project.root).settings.search["study_name"] == "narrow-lr"
    wait_until(lambda: set(tab.study_picker.names()) == {"search", "narrow-lr"}, 30_000)
    listed = {tab.study_picker.itemData(i): tab.study_picker.itemText(i)
              for i in range(tab.study_picker.count())}
    assert "2 trials done" in listed["search"] and "1 trial done" in listed["narrow-lr"]
    assert "accuracy" in listed["search"] and "last change" in listed["search"]
    tab.study_picker.setCurrentIndex(tab.study_picker.findData("search"))
    tab.study_picker.activated.emit(tab.study_picker.currentIndex())
    wait_jobs(qtbot, window)
    assert window.session.study == "search" and tab.study_name.text() == "search"
    assert tab.trials_table.rowCount() == 2 and tab.result.study_name == "search"


def test_list_studies_reads_every_study_of_the_project(tmp_path, make_demo_project):
    import optuna

    from allgui.core.search.study import list_studies

    project = make_demo_project(tmp_path / "demo")
    assert list_studies(project) == ()
    for name, values in (("a", [0.5, 0.7]), ("b", [0.6])):
        study = optuna.create_study(study_name=name, storage=project.storage_url,
                                    direction="maximize")
        for v in values:
            study.add_trial(optuna.trial.create_trial(value=v, params={},
                                                      distributions={}))
    infos = {i.name: i for i in list_studies(project)}
    assert infos["a"].n_trials == 2 and infos["a"].best_value == 0.7
    assert infos["b"].n_counted == 1 and infos["b"].last_change is not None


# -- projects made on purpose ----------------------------------------------------------------


def test_choosing_a_dataset_with_a_project_open_asks_for_a_new_project(
        window, qtbot, tmp_path, captured, make_demo_project):
    project = open_demo(window, qtbot, tmp_path / "demo", make_demo_project)
    other = make_demo_project(tmp_path / "other").settings.dataset.path
    before = project.settings.dataset.path
    captured.answer = False
    window.dataset_tab.open_dataset(other)
    assert window.project.root == project.root
    assert Project.open(project.root).settings.dataset.path == before
    captured.answer = True
    window.dataset_tab.open_dataset(other)
    wait_until(lambda: window.dataset_tab.view is not None, 60_000)
    wait_jobs(qtbot, window)
    assert window.project.root != project.root
    assert window.project.root.parent == tmp_path / "projects"
    assert window.project.settings.dataset.path == other
    assert Project.open(project.root).settings.dataset.path == before  # never re-pointed
    assert window.session.synthetic and "SYNTHETIC" in window.project_label.text()


def test_file_new_is_a_form_that_refuses_what_it_cannot_make(window, qtbot, tmp_path,
                                                             make_demo_project):
    from allgui.gui.new_project import NewProjectForm

    form = window.new_project_form()
    assert isinstance(form, NewProjectForm) and form.isVisible()
    assert form.location.text() == str(window.settings.projects_dir())
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "letter.txt").write_text("not a project")
    form.location.setText(str(tmp_path))
    form.name.setText("full")
    form.create_button.click()
    assert form.isVisible() and "not empty and is not an allgui project" in form.problem.text()
    empty = tmp_path / "images"
    empty.mkdir()
    (empty / "notes.txt").write_text("x")
    (empty / "blank.bmp").write_bytes(b"")
    form.name.setText("fresh")
    form.dataset.setText(str(empty))
    form.create_button.click()
    assert form.isVisible()
    assert "notes.txt: not an image" in form.problem.text()
    assert "blank.bmp: empty file" in form.problem.text()
    assert not (tmp_path / "fresh").exists()
    data = make_demo_project(tmp_path / "demo").settings.dataset.path
    form.dataset.setText(data)
    form.image_size.setValue(48)
    form.backbone.setCurrentText("resnet18")
    form.weights.setCurrentIndex(form.weights.findData("none"))
    form.create_button.click()
    wait_until(lambda: window.project is not None, 5000)
    wait_until(lambda: window.dataset_tab.view is not None, 60_000)
    wait_jobs(qtbot, window)
    s = window.project.settings
    assert window.project.root == (tmp_path / "fresh").resolve() or \
        window.project.root == tmp_path / "fresh"
    assert (s.dataset.path, s.dataset.image_size, s.model.backbone, s.model.weights) == (
        data, 48, "resnet18", "none")


def test_an_image_less_folder_explains_itself_and_leaves_nothing(window, qtbot, tmp_path,
                                                                  captured):
    folder = tmp_path / "pictures"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "readme.md").write_text("hello")
    (folder / "cell.png").write_bytes(b"")
    window.dataset_tab.open_dataset(str(folder))
    wait_jobs(qtbot, window)
    message, details = captured.errors[-1]
    assert "No images found" in message
    assert "readme.md: not an image" in details and "cell.png: empty file" in details
    assert window.project is None
    projects = tmp_path / "projects"
    assert not projects.exists() or not any(projects.iterdir())


# -- the form does not change under the wheel -------------------------------------------------


def _wheel(widget) -> None:
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(QPoint(5, 5))), QPoint(0, 0),
                        QPoint(0, -120), Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_no_field_changes_under_the_wheel_unless_it_has_focus(window, qtbot, tmp_path,
                                                              make_demo_project):
    open_demo(window, qtbot, tmp_path / "demo", make_demo_project)
    window.optimize_tab.setFocus()
    fields = [w for w in window.findChildren(QComboBox) + window.findChildren(QAbstractSpinBox)
              if w.isEnabled()]
    assert len(fields) > 15

    def value(w):
        return w.currentIndex() if isinstance(w, QComboBox) else w.text()

    for w in fields:
        before = value(w)
        _wheel(w)
        assert value(w) == before, (w.objectName(), type(w).__name__, w.parent())
    backbone = window.optimize_tab.backbone
    assert backbone.focusPolicy() == Qt.StrongFocus
    spin = window.optimize_tab.trials  # a field with focus does take the wheel
    window.tabs.setCurrentWidget(window.optimize_tab)
    spin.setFocus()
    wait_until(spin.hasFocus, 2000)
    before = spin.value()
    _wheel(spin)
    assert spin.value() != before


# -- counts that add up -------------------------------------------------------------------------


def test_progress_counts_stopped_trials_and_a_finished_study_add_up(window, qtbot, tmp_path,
                                                                      captured, make_demo_project):
    open_demo(window, qtbot, tmp_path / "demo", make_demo_project)
    tab = window.optimize_tab
    tiny_search_form(tab, trials=2, epochs=15)  # long enough for Stop to land mid-trial
    bars = []

    def seen(event):  # after the tab's own handlers: what the bar shows then
        if isinstance(event, (JobStarted, TrialStarted)) and event.job == "search":
            bars.append((type(event).__name__, tab.progress.bar.value(),
                         tab.progress.bar.maximum()))

    window.job_started.connect(lambda job: job.event.connect(seen))
    tab.start()
    wait_jobs(qtbot, window, timeout=120_000)
    assert not captured.errors, captured.errors
    first_trial = next(b for b in bars if b[0] == "TrialStarted")
    assert first_trial[1:] == (0, 2), bars  # from 0 of 2, not 100 %
    assert tab.result.n_counted == 2 and tab.start_button.text() == "Start search"
    took = tab.result.study_s
    assert took > 0
    label = tab.study_label.text()
    tab.start()  # the study holds its two trials: it says so, and runs nothing
    assert tab.job is None and "is finished" in captured.errors[-1][0]
    assert tab.result.study_s == took and tab.study_label.text() == label  # time kept
    captured.errors.clear()
    tab.trials.setValue(5)
    stopped = []
    window.job_started.connect(lambda job: job.event.connect(
        lambda e: isinstance(e, EpochEnded) and e.trial == 3 and not stopped
        and (stopped.append(1), tab.stop())))
    tab.start()
    wait_jobs(qtbot, window, timeout=120_000)
    assert not captured.errors, captured.errors
    r = tab.result
    assert r.stopped and r.n_counted == 3 and r.n_stopped == 1 and r.n_faulted == 0
    assert tab.start_button.text() == "Resume search (3 of 5 done)"
    row = tab.trials_table.find_row(3)
    assert tab.trials_table.item(row, 1).text() == "stopped"
    assert tab.trials_table.item(row, 1).foreground().color() != Qt.darkRed
    assert "1 stopped" in tab.study_label.text() and "0 failed" in tab.study_label.text()
    assert tab.result.study_s > took


# -- nothing carries over between projects; synthetic stays synthetic ----------------------------


def test_a_new_project_shows_nothing_of_the_last_and_synthetic_stays_synthetic(
        window, qtbot, tmp_path, captured, make_demo_project):
    from allgui.core.infer import read_model_info

    project = open_demo(window, qtbot, tmp_path / "demo", make_demo_project)
    tiny_search_form(window.optimize_tab, trials=2, epochs=1)
    window.optimize_tab.start()
    wait_jobs(qtbot, window, timeout=120_000)
    assert "Search finished; best" in window.optimize_tab.progress.label.text()
    tab = window.validate_tab
    tab.runs.setValue(2)
    tab.epochs.setValue(1)
    choose(tab.baseline, "default")
    tab.start()
    wait_jobs(qtbot, window, timeout=180_000)
    assert not captured.errors, captured.errors
    assert "SYNTHETIC" in tab.summary.text()
    assert not isinstance(tab._roc_holder.itemAt(0).widget(), QLabel)  # a figure
    assert window.session.batch is tab.view
    tab.export_model()
    wait_jobs(qtbot, window, timeout=120_000)
    wait_until(lambda: window.classify_tab.classifier is not None, 30_000)
    wait_jobs(qtbot, window)
    assert not captured.errors, captured.errors
    info = read_model_info(tab.exported)
    assert info.card.synthetic and info.test_set.startswith("SYNTHETIC demo data")
    assert "SYNTHETIC" in window.classify_tab.model_info.toPlainText()
    assert "SYNTHETIC" in window.classify_tab.model_label.text()
    assert window.session.model is window.classify_tab.classifier

    assert window.new_project(tmp_path / "blank")  # File > New's end
    wait_jobs(qtbot, window)
    for holder in (tab._roc_holder, tab._cm_holder):
        assert isinstance(holder.itemAt(0).widget(), QLabel)
    assert tab.view is None and window.session.batch is None
    assert "Batch" not in tab.summary.text() and tab.table.rowCount() == 0
    opt = window.optimize_tab
    assert opt.progress.label.text() == "" and opt.trials_table.rowCount() == 0
    assert "best" not in opt.study_label.text() and opt.start_button.text() == "Start search"
    assert tab.baseline.currentData() == "none"
    window.open_project(project.root)  # reopened: its baseline choice is back
    wait_jobs(qtbot, window)
    assert tab.baseline.currentData() == "default"
    assert tab.view is not None and "SYNTHETIC" in tab.summary.text()
