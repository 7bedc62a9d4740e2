"""One text rule for every label, dialog, tooltip and table cell (issue 26,
item 4; issue 25, item 16): names from files are shown as written, markup
only where the code built it. A project in a folder named like markup is
taken through the jobs of the window, and every text they leave is read as
a user reads it (Qt's rendering) and compared with what was meant."""

from __future__ import annotations

import pytest

from support.gui import wait_jobs, wait_until
from support.readable import everything_read, label_text, tip_text

pytestmark = pytest.mark.gui

NAME = "<b>o'brien & co"  # a folder name a user may well have, that looks like markup
STUDY = "s'2 <b>"  # a study name typed by a user
PARAMS = "lr=0.003, hidden=16, batch_size=16"


def misread(roots=None) -> list[tuple[str, str]]:
    """Texts with markup or an escape left in them, once the names themselves are set aside."""
    from support.readable import LEFTOVERS

    return [(where, text) for where, text in everything_read(roots)
            if LEFTOVERS.search(text.replace(NAME, "").replace(STUDY, ""))]


def test_every_text_a_validation_leaves_reads_as_meant(window, qtbot, tmp_path, captured,
                                                       make_demo_project):
    from allgui.gui.validate.mistakes import Selection

    project = make_demo_project(tmp_path / NAME)
    window.open_project(project.root)
    wait_jobs(qtbot, window)
    assert NAME in label_text(window.project_label)  # the folder's name as written
    window.optimize_tab.pick_study(STUDY)
    assert STUDY in window.optimize_tab.study_picker.currentText()

    tab = window.validate_tab
    tab.params.setText(PARAMS)
    tab.runs.setValue(1)
    tab.epochs.setValue(1)
    tab.start()
    wait_jobs(qtbot, window, timeout=180_000)
    assert not captured.errors, captured.errors
    assert tab.view is not None
    from allgui.core.validation.predictions import read_predictions

    batch = tab.view.batch
    run = batch.runs_of("tuned")[0]
    preds = read_predictions(run.predictions_path, batch.classes)
    true, called = batch.classes[preds.labels[0]], batch.classes[preds.predicted[0]]
    tab.open_gallery(run, Selection("cell", true, called))  # a cell with an image in it
    wait_until(lambda: tab.gallery is not None, 60_000)
    gallery = tab.gallery
    # no model exported yet: the gallery says so, "run's" as written
    assert any("export this run's model" in text for _w, text in everything_read([gallery]))
    tips = [tip_text(gallery.list.item(i).toolTip()) for i in range(gallery.list.count())]
    assert tips and all(NAME in tip for tip in tips)  # file paths never read as markup
    wrong = misread([window, gallery])
    assert wrong == [], "\n".join(f"{w}: {t!r}" for w, t in wrong)


def test_the_evaluate_question_is_plain_words(window, qtbot, captured, monkeypatch, tmp_path,
                                              tiny_models):
    import numpy as np
    from PIL import Image

    from allgui.gui import dialogs

    from support.readable import box_text

    model = tmp_path / "tiny.onnx"
    tiny_models.export(model)
    data = tmp_path / NAME
    rng = np.random.default_rng(0)
    for label in ("all", "hem"):
        (data / label).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(
                data / label / f"{label}_{i}.png")
    asked: list[str] = []

    def ask(parent, title, question) -> bool:  # the real box, read as shown
        asked.append(box_text(dialogs.question_box(parent, title, question)))
        return True

    monkeypatch.setattr(dialogs, "ask_yes_no", ask)
    window.tabs.setCurrentWidget(window.validate_tab)
    window.validate_tab.evaluate_button.click()
    dialog = window.validate_tab.evaluation
    dialog.resamples = 50
    dialog.set_model(str(model))
    dialog.set_data(str(data))
    dialog.evaluate_button.click()
    wait_until(lambda: dialog.job is None, 120_000)
    assert dialog.evaluation is not None and dialog.view.isVisible()
    shown = dialog.summary_label.text()
    assert shown

    dialog.evaluate_button.click()  # the same folder: an earlier report there, asked about
    assert len(asked) == 1 and asked[0].startswith(str(data.parent / f"evaluation-{model.stem}"))
    assert "<p" not in asked[0] and "Replace it?" in asked[0]
    # the last result leaves the view while the new one runs
    assert dialog.job is not None and not dialog.view.isVisible()
    assert dialog.summary_label.text() == "" and shown not in dialog.used_label.text()
    wait_until(lambda: dialog.job is None, 120_000)
    assert not captured.errors, captured.errors
    assert dialog.view.isVisible() and dialog.summary_label.text()
    wrong = misread([dialog])
    assert wrong == [], "\n".join(f"{w}: {t!r}" for w, t in wrong)
