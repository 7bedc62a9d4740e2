"""The Dataset tab: the demo button, drops, the summary, the split and its audit."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from support.gui import drop_paths, wait_jobs, wait_until

pytestmark = pytest.mark.gui


def test_demo_button_makes_and_opens_a_synthetic_project(window, qtbot, tmp_path):
    tab = window.dataset_tab
    qtbot.mouseClick(tab.demo_button, Qt.LeftButton)
    wait_until(lambda: tab.view is not None, 60_000)
    wait_jobs(qtbot, window)
    project = window.project
    assert project is not None and project.root.parent == tmp_path / "projects"
    assert "SYNTHETIC" in window.project_label.text() and tab.synthetic_label.isVisible()
    text = tab.summary_text.toPlainText()
    assert "SYNTHETIC DEMO DATA" in text and "Patients in train" in text
    assert tab.thumbs.count() >= 2  # a few images of each class
    assert {tab.thumbs.item(i).text() for i in range(tab.thumbs.count())} == {"all", "hem"}
    assert "No leakage found" in tab.audit_text.toPlainText()
    assert window.settings.recent_projects()[0] == str(project.root)

    # A thumbnail opens large in the viewer; "Browse all images" lists the whole class.
    first = tab.thumbs.item(0)
    dialog = tab._open_thumb(first)
    qtbot.addWidget(dialog)
    assert dialog.viewer.pixmap() is not None and dialog.viewer.caption.full_text().endswith(
        first.toolTip().split(": ", 1)[1])
    tab.thumbs.setCurrentItem(first)
    browser = tab.browse()
    qtbot.addWidget(browser)
    wait_jobs(qtbot, window)
    n = sum(1 for r in tab.view.index.records if r.label == first.text())
    assert browser.list.count() == min(n, 120) and f"of {n} images" in browser.header.text()


def test_image_split_warns_and_audit_reports_leakage(window, qtbot, tmp_path, make_demo_project):
    project = make_demo_project(tmp_path / "demo")
    window.open_project(project.root)
    tab = window.dataset_tab
    wait_until(lambda: tab.view is not None, 60_000)
    wait_jobs(qtbot, window)
    tab.method.setCurrentIndex(tab.method.findData("image"))
    assert tab.leaky_warning.isVisibleTo(tab)
    tab.apply_split()
    wait_jobs(qtbot, window)
    audit = tab.audit_text.toPlainText()
    assert "LEAKAGE" in audit and "patients" in audit
    assert window.project.settings.split.method == "image"  # saved in the project


def test_folder_dropped_on_the_dataset_tab_opens_it(window, qtbot, tmp_path, make_demo_project):
    project = make_demo_project(tmp_path / "demo")
    window.tabs.setCurrentWidget(window.dataset_tab)
    drop_paths(window, [project.settings.dataset.path])
    wait_until(lambda: window.dataset_tab.view is not None, 60_000)
    wait_jobs(qtbot, window)
    # No project was open: one was made for the dropped dataset.
    assert window.project.settings.dataset.path == project.settings.dataset.path
    assert window.dataset_tab.view.index.layout == "cnmc"


def test_project_folder_dropped_opens_the_project(window, qtbot, tmp_path, make_demo_project):
    project = make_demo_project(tmp_path / "demo")
    drop_paths(window, [project.root])
    assert window.project.root == project.root
    wait_jobs(qtbot, window)


def test_empty_or_missing_folder_is_a_plain_dialog(window, qtbot, captured, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    window.dataset_tab.open_dataset(str(empty))
    wait_jobs(qtbot, window)
    message, _ = captured.errors[-1]
    assert "Traceback" not in message and message
    window.dataset_tab.open_dataset(str(tmp_path / "nowhere"))
    assert "does not exist" in captured.errors[-1][0]
