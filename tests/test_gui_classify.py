"""The Classify tab: a model, dropped images and folders, results, heatmap, CSV."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.gui import drop_paths, wait_jobs

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory, tiny_models):
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    tiny_models.export(path)
    return path


def load(window, qtbot, path):
    window.classify_tab.load_model(str(path))
    wait_jobs(qtbot, window)


def test_dropped_images_and_folder_are_classified_and_saved(
    window, qtbot, tiny_onnx, cnmc_samples, tmp_path
):
    tab = window.classify_tab
    load(window, qtbot, tiny_onnx)
    assert tab.classifier is not None
    assert "tiny.onnx" in tab.model_label.text() and "CPU" in tab.model_label.text()
    assert "classes: all, hem" in tab.model_info.toPlainText()

    one = sorted((cnmc_samples / "all").glob("*.bmp"))[0]
    drop_paths(window, [one])  # a single image, from the Dataset tab: goes to Classify
    wait_jobs(qtbot, window)
    assert window.tabs.currentWidget() is tab and tab.table.rowCount() == 1

    folder = tmp_path / "smear"
    shutil.copytree(cnmc_samples / "hem", folder)
    (folder / "broken.bmp").write_bytes(b"not an image")
    drop_paths(window, [folder])
    wait_jobs(qtbot, window)
    assert tab.table.rowCount() == 1 + 4
    problems = [tab.table.item(r, 6).text() for r in range(tab.table.rowCount())]
    assert sum(bool(p) for p in problems) == 1  # the broken file, with its reason
    # Probabilities read alike in every row (four decimals) and sort by value.
    shown = [tab.table.item(r, 2).text() for r in range(tab.table.rowCount())
             if tab.table.item(r, 2).text()]
    assert shown and all(len(t.split(".")[1]) == 4 for t in shown)
    from allgui.gui.classify.results import NumberItem as _number

    assert _number(0.777).text() == "0.7770"  # not "0.777" beside "0.6778"
    tab.table.sortItems(2)
    values = [float(t) for t in (tab.table.item(r, 2).text() for r in range(tab.table.rowCount()))
              if t]
    assert values == sorted(values)
    tab.table.sortItems(0)

    tab.table.selectRow(problems.index(""))
    assert tab.image_label.pixmap() is not None and not tab.image_label.pixmap().isNull()
    answer = tab.answer_label.text()
    assert "probability" in answer and "margin" in answer
    with_heat = tab.image_label.pixmap().toImage()
    tab.heatmap_check.setChecked(False)
    without = tab.image_label.pixmap().toImage()
    assert with_heat != without  # the overlay changes the picture
    tab.heatmap_check.setChecked(True)
    tab.opacity.setValue(10)
    assert tab.image_label.pixmap().toImage() != with_heat

    out = tmp_path / "results.csv"
    tab.save_csv(str(out))
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 5 and {"path", "class", "p_all", "p_hem", "margin", "uncertain"} <= set(
        rows[0])
    assert sum(1 for r in rows if r["error"]) == 1


def test_dropped_model_file_is_loaded(window, qtbot, tiny_onnx):
    drop_paths(window, [tiny_onnx])
    wait_jobs(qtbot, window)
    assert window.classify_tab.classifier is not None


def test_bad_inputs_are_plain_dialogs(window, qtbot, captured, tmp_path, cnmc_samples):
    tab = window.classify_tab
    image = sorted((cnmc_samples / "all").glob("*.bmp"))[0]
    tab.classify_paths([str(image)])
    assert "Load a model first" in captured.errors[-1][0]

    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x00garbage" * 50)
    load(window, qtbot, corrupt)
    message, details = captured.errors[-1]
    assert "corrupt.onnx" in message and "Traceback" not in message and details
    assert tab.classifier is None
    bar = tab.progress.bar  # work that failed is not shown as done
    assert bar.value() < bar.maximum() and "could not be loaded" in tab.progress.label.text()

    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    tab.classify_paths([str(notes)])
    assert "No images found" in captured.errors[-1][0]


def test_classify_tab_imports_no_torch():
    code = ("import sys; import allgui.gui.classify.tab, allgui.core.infer; "
            "print(sorted(m for m in ('torch', 'timm', 'optuna') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


CLASSIFY_ONLY = """
import sys
for name in ("torch", "timm", "optuna", "torchvision"):
    sys.modules[name] = None  # as in the classify-only build: importing them fails
from PySide6.QtWidgets import QApplication
from allgui.gui.main_window import MainWindow
from allgui.gui.settings import AppSettings
from allgui.gui import errors
shown = []
errors.present = lambda box: shown.append(box.text())
app = QApplication([])
w = MainWindow(AppSettings(sys.argv[1] + "/settings.ini"))
w.show()
assert [w.tabs.isTabEnabled(i) for i in range(4)] == [False, False, False, True]
assert w.tabs.currentWidget() is w.classify_tab
assert "torch is not installed" in w.tabs.tabToolTip(1)
assert w.open_project(sys.argv[1] + "/project")  # its latest model loads by itself
from support.gui import drop_paths, wait_until
wait_until(lambda: w.classify_tab.classifier is not None and not w.jobs, 30_000)
drop_paths(w, [sys.argv[2]])
wait_until(lambda: not w.jobs and w.classify_tab.table.rowCount() == 1, 30_000)
assert not shown, shown
print("classified", w.classify_tab.table.item(0, 1).text(),
      [m for m in ("torch", "timm", "optuna") if sys.modules.get(m) is not None])
w.close()
"""


def test_window_classifies_without_torch(tmp_path, tiny_onnx, cnmc_samples):
    """The classify-only build: no torch, timm or optuna; only Classify is on."""
    from allgui.core.project import Project, ProjectSettings

    project = Project.create(tmp_path / "project", ProjectSettings())
    project.models_dir.mkdir()
    shutil.copy(tiny_onnx, project.models_dir / "model.onnx")
    image = sorted((cnmc_samples / "hem").glob("*.bmp"))[0]
    out = subprocess.run(
        [sys.executable, "-c", CLASSIFY_ONLY, str(tmp_path), str(image)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen",
             "PYTHONPATH": str(Path(__file__).parent)},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "classified" in out.stdout and out.stdout.strip().endswith("[]")


def test_a_model_failure_keeps_the_finished_results(window, qtbot, captured, tiny_onnx,
                                                    cnmc_samples, tmp_path):
    """The model fails from the second batch on: the first batch's answers stay,
    the others are listed with the reason, and nothing is thrown away."""
    from allgui.core.infer import Classifier

    class FailsAfterFirstBatch(Classifier):
        calls = 0

        def run(self, pixels, **options):
            type(self).calls += 1
            if type(self).calls > 1:
                raise RuntimeError("onnxruntime: Failed to allocate memory")
            return super().run(pixels, **options)

    folder = tmp_path / "many"
    for copy in ("a", "b"):
        shutil.copytree(cnmc_samples, folder / copy)  # 12 images: batches of 8 and 4
    tab = window.classify_tab
    tab.clear()
    tab.classifier = FailsAfterFirstBatch(tiny_onnx, device="cpu")
    tab.classify_paths([str(folder)])
    wait_jobs(qtbot, window)
    assert tab.table.rowCount() == 12
    answered = [r for r in tab.results if r.prediction is not None]
    failed = [r for r in tab.results if r.prediction is None]
    assert len(answered) == 8 and len(failed) == 4
    assert all("the model failed on it" in r.error for r in failed)
    assert all(r.heatmap_small is not None and r.heatmap_small.max() <= 255 for r in answered)
    tab.table.selectRow(0)
    assert tab.image_label.pixmap() is not None


def test_hostile_metadata_is_shown_as_text(window, qtbot, tmp_path):
    """Issue 13 case 7: a model's metadata is shown escaped, never obeyed as
    terminal controls or as markup."""
    import numpy as np
    from PIL import Image

    from support.onnx_models import handmade_model

    model = handmade_model(
        tmp_path / "<b>x.onnx", (0.9, 0.1), classes=["<i>all</i>\x1b[2J", "hem"],
        positive_class="<i>all</i>\x1b[2J", research_notice="\x1b[2K\rCLINICALLY VALIDATED")
    tab = window.classify_tab
    load(window, qtbot, model)
    shown = tab.model_info.toPlainText()
    assert "\x1b" not in shown and "\\x1b[2K\\rCLINICALLY VALIDATED" in shown
    assert "&lt;b&gt;x.onnx" in tab.model_label.text()
    image = tmp_path / "cell.png"
    Image.fromarray(np.full((40, 40, 3), 80, np.uint8)).save(image)
    tab.classify_paths([str(image)])
    wait_jobs(qtbot, window)
    tab.table.selectRow(tab.table.rowCount() - 1)
    assert "&lt;i&gt;all&lt;/i&gt;" in tab.answer_label.text()
    assert "\x1b" not in tab.table.item(tab.table.rowCount() - 1, 1).text()


def test_folders_named_by_class_are_the_truth(window, qtbot, tiny_onnx, cnmc_samples, tmp_path):
    """C-NMC's all/ and hem/ folders: a Truth column, each folder's and each
    patient's accuracy; the shown image saves as a PNG with its heatmap."""
    from PIL import Image

    from allgui.gui.classify.truth import truth_of

    assert truth_of("/data/fold_0/ALL/UID_1/a.bmp", ("all", "hem")) == "all"
    assert truth_of("/data/smear/a.bmp", ("all", "hem")) == ""
    tab = window.classify_tab
    load(window, qtbot, tiny_onnx)
    tab.classify_paths([str(cnmc_samples / "all"), str(cnmc_samples / "hem")])  # Classify a folder…
    wait_jobs(qtbot, window)
    n = tab.table.rowCount()
    assert n == len(list(cnmc_samples.rglob("*.bmp")))
    truths = [tab.table.item(r, 7).text().rstrip(" ✗") for r in range(n)]
    assert sorted(set(truths)) == ["all", "hem"]
    wrong = sum(tab.table.item(r, 7).text().endswith("✗") for r in range(n))
    summary = tab.truth_label.text()
    assert f"{n - wrong} of {n} right" in summary
    assert "Folder <b>all</b>" in summary and "Folder <b>hem</b>" in summary

    tab.table.selectRow(0)
    out = tmp_path / "shown.png"
    tab.save_image(str(out))
    with Image.open(out) as img:
        assert img.format == "PNG" and img.size == tab.image_label.composed().shape[1::-1]


def test_the_model_description_is_whole_on_hover_and_can_be_given_room(window, qtbot, tiny_onnx):
    """The description was cut at 84 pixels, mid-line (issue 26, walkthrough at
    1280x800): it is whole on hover, and the splitter above the results lets
    it show every line."""
    from PySide6.QtGui import QTextDocument

    tab = window.classify_tab
    window.tabs.setCurrentWidget(tab)
    window.resize(1280, 760)
    qtbot.waitExposed(window)
    load(window, qtbot, tiny_onnx)
    info = tab.model_info
    text = info.toPlainText()
    assert len(text.splitlines()) > 4
    tip = QTextDocument()
    tip.setHtml(info.toolTip())
    assert tip.toPlainText().strip() == text.strip()  # every line, the file's words as words
    # lines shown whole, never the top half of one
    top = int(info.document().documentMargin())
    assert (info.viewport().height() - top) % info.fontMetrics().lineSpacing() == 0
    # given the column by its splitter, the description shows without a scroll bar
    splitter = tab.model_splitter
    splitter.setSizes([splitter.height() - 120, 120])
    qtbot.wait(50)
    assert info.height() > 84
    assert not info.verticalScrollBar().isVisible()


def test_every_column_of_the_answers_is_in_view_at_a_laptops_width(
        window, qtbot, tiny_onnx, cnmc_samples):
    """At 1280 px the Problem and Truth columns were off to the right, behind
    a scroll bar; a column no answer fills is hidden while it is empty."""
    tab = window.classify_tab
    window.tabs.setCurrentWidget(tab)
    window.resize(1280, 760)
    qtbot.waitExposed(window)
    load(window, qtbot, tiny_onnx)
    tab.classify_paths([str(cnmc_samples / "all")])  # a class folder: the Truth column is filled
    wait_jobs(qtbot, window)
    qtbot.wait(50)
    table = tab.table
    header = table.horizontalHeader()
    shown = [c for c in range(table.columnCount()) if not table.isColumnHidden(c)]
    last = shown[-1]
    assert header.sectionViewportPosition(last) + header.sectionSize(last) <= \
        table.viewport().width()
    assert not table.horizontalScrollBar().isVisible()
    truth = [table.horizontalHeaderItem(c).text() for c in shown].index("Truth")
    assert table.item(0, shown[truth]).text()  # the filled column stays
    problems = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())
                if table.isColumnHidden(c)]
    assert "Problem" in problems  # no image failed: nothing to show there


def test_engine_choice_reloads_the_model_on_openvino(window, qtbot, tiny_onnx, cnmc_samples):
    """Choosing OpenVINO reopens the model with it, says so beside the model and
    keeps the choice; the answers are onnxruntime's."""
    from allgui.core.infer.openvino_session import PROVIDER, installed

    if not installed():
        pytest.skip("OpenVINO is not installed (the openvino extra)")
    tab = window.classify_tab
    load(window, qtbot, tiny_onnx)
    image = sorted((cnmc_samples / "all").glob("*.bmp"))[0]
    before = tab.classifier.classify(image, heatmap=False)
    tab.engine_choice.setCurrentIndex(tab.engine_choice.findData("openvino"))
    wait_jobs(qtbot, window)
    assert tab.classifier.engine == "openvino"
    assert PROVIDER in tab.model_label.text()
    assert window.settings.choice("classify/engine") == "openvino"
    after = tab.classifier.classify(image, heatmap=False)
    assert after.label == before.label
    assert abs(after.probability - before.probability) <= 1e-4
    tab.engine_choice.setCurrentIndex(tab.engine_choice.findData("onnxruntime"))
    wait_jobs(qtbot, window)
    assert tab.classifier.engine == "onnxruntime"
