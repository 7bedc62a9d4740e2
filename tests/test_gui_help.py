"""Help > User guide (bundled, offline), the window's minimum size (which
follows what the tabs come to need), labels and lists that elide rather than
clip, long text that scrolls in place, and the counted words of its sentences."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def test_user_guide_is_bundled_and_walks_the_four_tabs(window, qtbot):
    from allgui.gui.help import GUIDE

    assert GUIDE.is_file() and "http" not in GUIDE.read_text(encoding="utf-8")  # offline
    action = next(a for m in window.menuBar().actions() if m.text() == "&Help"
                  for a in m.menu().actions() if a.text() == "&User guide")
    assert action.shortcut().toString()  # F1 (the platform's Help key)
    dialog = window.show_user_guide()
    qtbot.addWidget(dialog)
    text = dialog.browser.toPlainText()
    for heading in ("1. Dataset", "2. Optimize", "3. Validate", "4. Classify"):
        assert heading in text
    assert "allgui optimize" not in text  # window actions, not commands


def test_the_window_keeps_a_readable_minimum_size(window, qtbot):
    from allgui.gui.main_window import MINIMUM_SIZE

    window.resize(400, 300)
    qtbot.wait(20)
    assert (window.width(), window.height()) >= MINIMUM_SIZE
    assert window.width() >= MINIMUM_SIZE[0] and window.height() >= MINIMUM_SIZE[1]
    window.resize(*MINIMUM_SIZE)
    window.tabs.setCurrentWidget(window.optimize_tab)
    qtbot.wait(20)
    assert window.optimize_tab.plots.height() >= 230  # the plots never collapse
    need = window.minimumSizeHint()  # nor do the tabs overlap: the window holds them
    assert window.minimumWidth() >= need.width() and window.minimumHeight() >= need.height()


def test_long_labels_elide_with_the_whole_text_on_hover(qtbot):
    from allgui.gui.widgets.elided import ElidedLabel

    text = "Search 'search': 8 trials to run (cached mode, 40 epochs each, 3 views)"
    label = ElidedLabel(text)
    qtbot.addWidget(label)
    label.resize(120, 20)
    label.show()
    qtbot.wait(10)
    shown = super(ElidedLabel, label).text()
    assert shown.endswith("…") and len(shown) < len(text)
    assert label.toolTip() == text and label.text() == text
    label.resize(2000, 20)
    assert super(ElidedLabel, label).text() == text and label.toolTip() == ""


def test_the_minimum_follows_what_the_tabs_come_to_need(window, qtbot):
    from PySide6.QtWidgets import QLabel

    window.resize(window.minimumSize())
    before = window.minimumHeight()
    tall = QLabel("a figure that came in later")
    tall.setMinimumHeight(before)  # far more than the tab had
    window.dataset_tab.layout().addWidget(tall)
    qtbot.waitUntil(lambda: window.minimumHeight() > before, timeout=3000)
    assert window.minimumHeight() <= window.screen().availableGeometry().height()  # room kept
    tall.deleteLater()


def test_long_choices_elide_with_the_whole_text_on_hover(qtbot):
    from allgui.gui.widgets.elided import ElidedCombo

    box = ElidedCombo()
    qtbot.addWidget(box)
    box.addItem("Cached features (fast; frozen backbone)")
    box.setToolTip("How each trial trains")
    box.resize(110, 24)
    box.show()
    qtbot.wait(10)
    assert box.minimumSizeHint().width() < 160  # the words do not hold the box wide
    assert box.is_elided()
    assert box.toolTip() == "Cached features (fast; frozen backbone)\n\nHow each trial trains"
    box.resize(600, 24)
    qtbot.wait(10)
    assert not box.is_elided() and box.toolTip() == "How each trial trains"


def test_long_text_scrolls_in_place_and_squeezes_nothing(qtbot):
    from PySide6.QtWidgets import QLabel

    from allgui.gui.widgets.elided import scrolled

    label = QLabel("")
    area = scrolled(label, lines=3)
    qtbot.addWidget(area)
    empty = area.minimumSizeHint().height(), area.minimumHeight()
    label.setText("A long note on the figures. " * 60)
    area.resize(300, 80)
    area.show()
    qtbot.wait(10)
    assert (area.minimumSizeHint().height(), area.minimumHeight()) == empty  # no taller
    assert area.verticalScrollBar().maximum() > 0 and label.text().startswith("A long note")


def test_counted_words():
    from allgui.core.files.text import count

    assert count(1, "image") == "1 image" and count(2, "image") == "2 images"
    assert count(0, "finished run") == "0 finished runs"
