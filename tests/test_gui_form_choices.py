"""Form choices are kept as they change, not only when a search starts, and
File > New offers the local weights file the README promises (issue 26, item 7)."""

from __future__ import annotations

import pytest

from support.gui import wait_jobs

pytestmark = pytest.mark.gui


def test_local_weights_survive_opening_another_project(window, qtbot, tmp_path, monkeypatch,
                                                       make_demo_project):
    from allgui.core.project import Project
    from allgui.gui import dialogs

    weights = tmp_path / "lite0.safetensors"
    weights.write_bytes(b"weights")
    a = make_demo_project(tmp_path / "a")
    b = make_demo_project(tmp_path / "b")
    window.open_project(a.root)
    wait_jobs(qtbot, window)
    tab = window.optimize_tab
    monkeypatch.setattr(dialogs, "choose_open_file", lambda *args: str(weights))
    tab.weights.setCurrentIndex(tab.weights.findData("file"))  # Weights > Local file…
    assert Project.open(a.root).settings.model.weights == str(weights)  # kept at once

    window.open_project(b.root)
    wait_jobs(qtbot, window)
    assert tab.weights.currentData() != "file"  # the other project's own choice
    window.open_project(a.root)
    wait_jobs(qtbot, window)
    assert tab.weights.currentData() == "file" and tab.weights_file.text() == str(weights)


def test_new_project_offers_a_local_weights_file(qtbot, tmp_path, monkeypatch):
    from allgui.core.errors import AllguiError
    from allgui.gui import dialogs
    from allgui.gui.new_project import NewProjectForm

    weights = tmp_path / "lite0.safetensors"
    weights.write_bytes(b"weights")
    form = NewProjectForm(None, tmp_path / "projects")
    qtbot.addWidget(form)
    monkeypatch.setattr(dialogs, "choose_open_file", lambda *args: str(weights))
    form.weights.setCurrentIndex(form.weights.findData("file"))
    assert form.weights_file.text() == str(weights)
    _folder, settings = form.values()
    assert settings.model.weights == str(weights.resolve())

    form.weights_file.setText(str(tmp_path / "gone.pth"))  # said before Start would fail
    with pytest.raises(AllguiError, match="does not exist"):
        form.values()
