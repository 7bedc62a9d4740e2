"""The window finds its tabs by identity, never by position: a tab added
anywhere leaves the View menu, a drop and the classify-only build right."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QWidget

pytestmark = pytest.mark.gui


def _view_action(window, title):
    (view,) = [a.menu() for a in window.menuBar().actions() if a.text() == "&View"]
    (action,) = [a for a in view.actions() if a.text() == title]
    return action


def test_a_tab_added_first_leaves_the_view_menu_and_drops_right(window, tmp_path):
    # A tab a later version adds first, switched off (as the classify-only
    # build switches tabs off): positions shift, identities do not.
    window.tabs.insertTab(0, QWidget(), "New tab")
    window.tabs.setTabEnabled(0, False)
    for tab in window.all_tabs():
        _view_action(window, tab.title).trigger()
        assert window.tabs.currentWidget() is tab
    window.tabs.setCurrentWidget(window.dataset_tab)
    opened = []
    window.dataset_tab.open_dataset = opened.append
    folder = tmp_path / "cells"
    folder.mkdir()
    window.handle_dropped_paths([str(folder)])  # a folder dropped on the Dataset tab
    assert opened == [str(folder)]
    assert window.tabs.currentWidget() is window.dataset_tab


def test_each_tab_says_whether_it_needs_the_training_engine(window):
    # The classify-only build turns off exactly the tabs that say so.
    needs = {type(t).__name__: t.needs_training_engine for t in window.all_tabs()}
    assert needs == {"DatasetTab": True, "OptimizeTab": True, "ValidateTab": True,
                     "ClassifyTab": False}
