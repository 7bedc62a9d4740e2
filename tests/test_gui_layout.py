"""The window fits a laptop's screen (issue 26, item 6): the first window
within the screen's room, the Classify picture the most of the tab's height
and full size on a click, a confusion matrix of four classes that can be read."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def test_the_first_window_fits_the_screen(window):
    room = window.screen().availableGeometry()
    # within the room, unless the window's own minimum is larger than the screen
    assert window.width() <= max(room.width(), window.minimumWidth())
    assert window.height() <= max(room.height(), window.minimumHeight())
    window.resize(room.width() + 500, room.height() + 500)  # a size saved on a larger screen
    window.fit_to_screen()
    assert window.height() <= max(room.height(), window.minimumHeight())
    assert window.width() <= max(room.width(), window.minimumWidth())


def test_the_classify_picture_gets_the_height_and_opens_full_size(window, qtbot):
    tab = window.classify_tab
    window.tabs.setCurrentWidget(tab)
    window.resize(1280, 760)
    qtbot.waitExposed(window)
    viewer = tab.image_label
    assert viewer.height() > 0.6 * tab.height()  # most of the tab, not what the model box leaves
    rgb = np.zeros((300, 200, 3), np.uint8)
    rgb[:, :, 1] = 200
    viewer.set_image(rgb, path="cell.png")
    dialog = tab.open_full_size()
    assert dialog is not None and dialog.isVisible()
    assert dialog.viewer.view.zoom == pytest.approx(1.0)  # one screen pixel per image pixel
    assert dialog.viewer.pixmap().width() == 200 and dialog.viewer.pixmap().height() == 300
    dialog.close()


def test_a_four_class_confusion_matrix_is_readable(qtbot):
    from allgui.core.validation.metrics import compute_metrics
    from allgui.core.validation.run_record import RunRecord
    from allgui.gui.validate.figures import ConfusionView

    classes = ("benign", "early", "pre", "pro")
    labels = np.repeat(np.arange(4), 5)
    probabilities = np.full((20, 4), 0.1)
    probabilities[np.arange(20), (labels + np.arange(20) % 2) % 4] = 0.7
    run = RunRecord("tuned", 1, 0, "finished",
                    metrics=compute_metrics(labels, probabilities, classes, "pro"))
    view = ConfusionView()
    qtbot.addWidget(view)
    view.set_runs([run], classes, "test part")
    assert view.canvas.minimumHeight() >= 4 * 40  # room for four rows of two-line cells
    rotations = {label.get_rotation() for label in view.ax.get_xticklabels()}
    assert rotations and all(r > 0 for r in rotations)  # "benign" and "early" cannot touch
