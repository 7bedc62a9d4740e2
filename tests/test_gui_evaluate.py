"""Evaluate on other data (the Validate tab's external validation): the engine's
figures in the window, plain messages, Stop, and a report never replaced
without asking."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from support.gui import wait_until

pytestmark = pytest.mark.gui

RESAMPLES = 100


@pytest.fixture(scope="module")
def exported_once(tmp_path_factory, tiny_models):
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    tiny_models.export(path, temperature=1.3)
    return path


@pytest.fixture()
def tiny_onnx(exported_once, tmp_path):
    """The model in a folder of this test's own: its report goes beside it."""
    import shutil

    (tmp_path / "models").mkdir()
    return Path(shutil.copy(exported_once, tmp_path / "models" / "tiny.onnx"))


@pytest.fixture()
def labelled(tmp_path, cnmc_samples):
    """Another centre's class folders: 4 patients a class, 3 cells each (the
    C-NMC samples turned and mirrored), folder names in capitals."""
    root = tmp_path / "other centre"
    for label, prefix in (("all", ""), ("hem", "H")):
        (root / label.upper()).mkdir(parents=True)
        sources = sorted((cnmc_samples / label).glob("*.bmp"))
        for p in range(4):
            for i, src in enumerate(sources):
                img = Image.open(src).convert("RGB").rotate(90 * p)
                if p % 2:
                    img = img.transpose(Image.FLIP_LEFT_RIGHT)
                img.save(root / label.upper() / f"UID_{prefix}{p + 1}_{i + 1}_1_{label}.bmp")
    return root


def open_dialog(window):
    window.tabs.setCurrentWidget(window.validate_tab)
    window.validate_tab.evaluate_button.click()
    dialog = window.validate_tab.evaluation
    assert dialog is not None and dialog.isVisible()
    dialog.resamples = RESAMPLES
    return dialog


def choose(dialog, monkeypatch, model, data) -> None:
    """Through the buttons, as a user does (the file dialogs answered)."""
    from allgui.gui import dialogs

    monkeypatch.setattr(dialogs, "choose_open_file", lambda *a: str(model))
    dialog.model_button.click()
    monkeypatch.setattr(dialogs, "choose_directory", lambda *a: str(data))
    dialog.classes_button.click()


def evaluate(dialog) -> None:
    dialog.evaluate_button.click()
    wait_until(lambda: dialog.job is None, 120_000)


def cells(table) -> list[list[str]]:
    return [[table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())]


def test_the_window_shows_exactly_the_engines_figures_and_writes_the_report(
        window, captured, monkeypatch, tiny_onnx, labelled):
    from PySide6.QtCore import Qt

    from allgui.core.validation.external import evaluate_model, figure_rows
    from allgui.core.validation.stats import format_interval, format_value
    from allgui.gui.validate import evaluate as evaluate_module

    (labelled / "HEM" / "<i>broken.bmp").write_bytes(b"not an image")
    dialog = open_dialog(window)
    choose(dialog, monkeypatch, tiny_onnx, labelled)
    assert str(tiny_onnx.parent / "evaluation-tiny") in dialog.folder_label.text()  # the CLI's
    evaluate(dialog)
    assert captured.errors == []

    expected = evaluate_model(tiny_onnx, labelled, resamples=RESAMPLES)
    whole = [r for r in figure_rows(expected) if r.of_class is None]
    assert expected.interval_unit == "patient"
    assert cells(dialog.view.figures) == [
        [r.label, format_value(r.value), format_interval(r.low, r.high),
         "per patient" if r.low is not None else "none"] for r in whole]
    assert sum(r.low is not None for r in whole) >= 4  # accuracy, balanced, F1, AUC at least
    per_class = cells(dialog.view.classes)
    assert [row[0] for row in per_class] == ["all", "hem"]
    recall = next(r for r in figure_rows(expected) if r.key == "recall[all]")
    assert per_class[0][2] == (f"{format_value(recall.value)} "
                               f"{format_interval(recall.low, recall.high)}")
    assert dialog.view.patients.rowCount() == 8
    ece = f"{expected.calibration.ece:.4f}"
    assert ece in dialog.view.calibration.text() and dialog.view.reliability is not None

    # what the engine used, and the one file left out with its reason, as plain text
    used = dialog.used_label.text()
    assert str(tiny_onnx) in used and str(labelled) in used and "Evaluated 20" in used
    assert "1 file could not be used" in dialog.summary_label.text()
    assert dialog.summary_label.textFormat() == Qt.PlainText
    assert "&lt;i&gt;broken.bmp" in dialog.summary_label.toolTip()
    assert "<i>broken.bmp" in dialog.view.skipped.toPlainText()

    out = tiny_onnx.parent / "evaluation-tiny"
    record = json.loads((out / "evaluation.json").read_text())
    assert record["figures"]["accuracy"]["value"] == pytest.approx(expected.metrics.accuracy)
    assert record["intervals"]["recall[all]"] == pytest.approx([recall.low, recall.high])
    assert "External validation" in (out / "evaluation.html").read_text()
    opened = []
    monkeypatch.setattr(evaluate_module, "open_url", lambda url: opened.append(url.toLocalFile()))
    dialog.open_button.click()
    assert opened == [str(out / "evaluation.html")]


def test_an_earlier_report_is_replaced_only_when_the_user_agrees(
        window, captured, monkeypatch, tiny_onnx, labelled):
    from allgui.gui import dialogs

    dialog = open_dialog(window)
    choose(dialog, monkeypatch, tiny_onnx, labelled)
    evaluate(dialog)
    out = tiny_onnx.parent / "evaluation-tiny"
    first = (out / "evaluation.html").read_text()
    (out / "evaluation.html").write_text(first + "<!-- read by a colleague -->")
    asked = []

    def answer(value):
        def ask(parent, title, question):
            asked.append(question)
            return value
        return ask

    monkeypatch.setattr(dialogs, "ask_yes_no", answer(False))
    evaluate(dialog)
    assert len(asked) == 1 and "earlier report" in asked[0]
    assert (out / "evaluation.html").read_text().endswith("<!-- read by a colleague -->")
    second = tiny_onnx.parent / "evaluation-tiny-2"
    assert (second / "evaluation.html").is_file()
    assert dialog.report_files["html"] == second / "evaluation.html"

    monkeypatch.setattr(dialogs, "ask_yes_no", answer(True))
    evaluate(dialog)
    assert len(asked) == 2
    assert not (out / "evaluation.html").read_text().endswith("-->")  # replaced, as agreed
    assert captured.errors == []

    # never inside the labelled images (they would read as one more class next time)
    dialog.set_folder(str(labelled / "ALL"))
    evaluate(dialog)
    assert "inside the labelled folder" in captured.errors[-1][0]
    assert sorted(p.name for p in (labelled / "ALL").iterdir())[0].startswith("UID_")


def test_no_class_the_model_knows_is_a_plain_message_and_keeps_the_result(
        window, captured, monkeypatch, tiny_onnx, labelled):
    from PySide6.QtCore import Qt

    from allgui.gui import errors

    dialog = open_dialog(window)
    choose(dialog, monkeypatch, tiny_onnx, labelled)
    evaluate(dialog)
    shown = cells(dialog.view.figures)
    used = dialog.used_label.text()
    report = (tiny_onnx.parent / "evaluation-tiny" / "evaluation.html").read_text()

    other = labelled.parent / "renamed"
    labelled.rename(other)
    (other / "ALL").rename(other / "<b>blasts")
    (other / "HEM").rename(other / "normal")
    boxes = []
    monkeypatch.setattr(errors, "present", lambda box: (
        boxes.append((box.text(), box.textFormat())), captured.present(box)))
    dialog.set_data(str(other))
    evaluate(dialog)
    message = captured.errors[-1][0]
    assert "does not know: '<b>blasts', 'normal'" in message
    assert "The model's classes are all, hem" in message
    assert "The result shown before is kept." in message and "Traceback" not in message
    assert boxes[-1][1] == Qt.PlainText  # the folder's name is not read as markup
    assert cells(dialog.view.figures) == shown and dialog.used_label.text() == used
    assert (tiny_onnx.parent / "evaluation-tiny" / "evaluation.html").read_text() == report

    # a file that is not a model
    bad = other.parent / "notes.onnx"
    bad.write_text("not a model")
    dialog.set_model(str(bad))
    evaluate(dialog)
    assert "notes.onnx" in captured.errors[-1][0] and "Traceback" not in captured.errors[-1][0]
    assert cells(dialog.view.figures) == shown


def test_stop_cancels_and_writes_nothing(window, captured, monkeypatch, tiny_onnx, labelled):
    import threading

    from allgui.core.infer.classifier import Classifier

    real = Classifier.classify_prepared
    calls = []
    stop_pressed = threading.Event()

    def held(self, images, **kw):
        calls.append(len(images))
        if len(calls) > 1:  # the second batch waits for Stop, as a long one would
            stop_pressed.wait(60)
        return real(self, images, **kw)

    monkeypatch.setattr(Classifier, "classify_prepared", held)
    for i in range(40):  # many more batches than the test lets run
        (labelled / "ALL" / f"UID_9_{i}_1_all.bmp").write_bytes(
            next((labelled / "ALL").glob("UID_1_*")).read_bytes())
    dialog = open_dialog(window)
    choose(dialog, monkeypatch, tiny_onnx, labelled)
    dialog.evaluate_button.click()
    assert dialog.job is not None and not dialog.evaluate_button.isEnabled()
    wait_until(lambda: len(calls) == 2, 60_000)
    assert dialog.progress.stop_button.isEnabled()
    dialog.progress.stop_button.click()
    stop_pressed.set()
    wait_until(lambda: dialog.job is None, 30_000)
    assert len(calls) == 2  # stopped at the next batch: no third one
    assert "Stopped" in dialog.progress.label.text()
    assert captured.errors == [] and dialog.evaluation is None
    assert not (tiny_onnx.parent / "evaluation-tiny").exists()
    assert dialog.evaluate_button.isEnabled()


WINDOW_PATH = """
import sys
from allgui.gui.validate.evaluate import EvaluationDialog
from allgui.gui.validate.evaluate_work import evaluate_in_window, write_report_in_window
import threading
ev = evaluate_in_window(sys.argv[1], sys.argv[2], 60, lambda e: None, threading.Event())
write_report_in_window(ev, sys.argv[3], False)
print(len(ev.result.paths), sorted(m for m in ("torch", "timm", "optuna") if m in sys.modules))
"""


def test_the_evaluation_path_loads_no_torch(tmp_path, labelled):
    from support.onnx_models import handmade_model

    model = handmade_model(tmp_path / "hand.onnx", (0.6, 0.4))
    out = subprocess.run(
        [sys.executable, "-c", WINDOW_PATH, str(model), str(labelled), str(tmp_path / "rep")],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen",
             "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent),
                                            os.environ.get("PYTHONPATH", "")])})
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "24 []"
    assert (tmp_path / "rep" / "evaluation.html").is_file()


def test_stop_answers_while_the_intervals_are_computed(window, captured, monkeypatch, tiny_onnx,
                                                       labelled):

    dialog = open_dialog(window)
    dialog.resamples = 1_000_000  # far longer than the test waits
    choose(dialog, monkeypatch, tiny_onnx, labelled)
    dialog.evaluate_button.click()
    wait_until(lambda: "bootstrap" in dialog.progress.label.text(), 60_000)
    dialog.progress.stop_button.click()
    wait_until(lambda: dialog.job is None, 30_000)  # a million resamples would take hours
    assert dialog.evaluation is None  # the intervals were never finished
    assert "Stopped" in dialog.progress.label.text() and captured.errors == []


def test_the_projects_exported_model_is_the_default(window, qtbot, captured, tmp_path,
                                                    tiny_onnx):
    import shutil

    from allgui.core.project import Project, ProjectSettings

    from support.gui import wait_jobs

    project = Project.create(tmp_path / "project", ProjectSettings())
    project.models_dir.mkdir()
    shutil.copy(tiny_onnx, project.models_dir / "exported.onnx")
    window.open_project(project.root)
    wait_jobs(qtbot, window)
    dialog = open_dialog(window)
    assert dialog.model_path == str(project.models_dir / "exported.onnx")
    assert "the project's exported model" in dialog.model_label.text()
    assert "evaluation-exported" in dialog.folder_label.text()  # beside the model
    dialog.evaluate_button.click()  # no images chosen yet: said plainly, nothing runs
    assert dialog.job is None
    assert captured.errors[-1][0] == "The labelled images must be chosen first."


def test_a_long_name_that_looks_like_markup_is_shown_as_it_is_on_hover(qtbot):
    from allgui.gui.widgets.elided import ElidedLabel

    text = "/data/<b>centre</b>/<img src=x>" * 6
    label = ElidedLabel(text)
    qtbot.addWidget(label)
    label.resize(120, 20)
    label.show()
    assert label.toolTip() != text and "&lt;b&gt;centre&lt;/b&gt;" in label.toolTip()
