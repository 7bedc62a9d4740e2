"""The mistakes gallery and the image viewer: a confusion-matrix cell clicked
opens exactly that cell's test images; the viewer zooms, pans and toggles
its heatmap; the heatmaps come from the run's exported model."""

from __future__ import annotations

import csv
import threading

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt

pytestmark = pytest.mark.gui

CLASSES = ("all", "hem")
# true class, probability of 'all': rows 0-2 right, 3-4 'all' called 'hem', 5 'hem' called 'all'
ROWS = [(0, 0.9), (0, 0.8), (1, 0.1), (0, 0.3), (0, 0.45), (1, 0.7), (1, 0.2)]


@pytest.fixture
def run(tmp_path):
    from allgui.core.validation.metrics import compute_metrics
    from allgui.core.validation.predictions import Predictions, write_predictions
    from allgui.core.validation.run_record import RunRecord

    paths = []
    for i in range(len(ROWS)):
        path = tmp_path / f"cell{i}.png"
        Image.fromarray(np.full((40, 30, 3), 30 * i, np.uint8)).save(path)
        paths.append(str(path))
    labels = np.array([r[0] for r in ROWS])
    proba = np.array([[p, 1 - p] for _, p in ROWS])
    patients = tuple(f"P{i % 3}" for i in range(len(ROWS)))
    folder = tmp_path / "run-1"
    folder.mkdir()
    write_predictions(folder / "predictions.csv",
                      Predictions(tuple(paths), patients, labels, proba, CLASSES))
    metrics = compute_metrics(labels, proba, CLASSES, "all", patients=patients)
    return RunRecord("tuned", 1, 7, "finished", folder=str(folder), metrics=metrics)


def click_cell(qtbot, view, row: int, col: int) -> None:
    """A real mouse click on the centre of a matrix cell."""
    view.canvas.draw()
    x, y = view.ax.transData.transform((col, row))
    ratio = view.canvas.device_pixel_ratio
    height = view.canvas.figure.bbox.height
    qtbot.mouseClick(view.canvas, Qt.LeftButton, pos=QPoint(int(x / ratio),
                                                           int((height - y) / ratio)))


def gallery_for(run, selection, tmp_path, model=None):
    from allgui.core.validation.predictions import read_predictions
    from allgui.gui.validate.gallery import MistakesGallery
    from allgui.gui.validate.mistakes import items_of, load_pictures, select

    preds = read_predictions(run.predictions_path, CLASSES)
    chosen, total = select(items_of(preds, "all"), selection, "all")
    contents = load_pictures(chosen, total, model, "no model here", lambda e: None,
                             threading.Event())
    return MistakesGallery(None, "test", contents, tmp_path)


def test_clicking_a_cell_shows_exactly_its_images(qtbot, run, tmp_path):
    from allgui.gui.validate.figures import ConfusionView
    from allgui.gui.validate.mistakes import Selection

    view = ConfusionView()
    qtbot.addWidget(view)
    view.resize(500, 420)
    view.show()
    view.set_runs([run], CLASSES, "the test set")
    assert view.ax.get_title() == "tuned run 1: 4 of 7 right"
    texts = [t.get_text() for t in view.ax.texts]
    assert texts[1] == "2\n50%"  # true 'all' called 'hem': 2 of 4
    clicked = []
    view.cell_clicked.connect(lambda r, t, p: clicked.append((r, t, p)))
    click_cell(qtbot, view, 0, 1)
    assert clicked == [(run, "all", "hem")]

    gallery = gallery_for(run, Selection("cell", "all", "hem"), tmp_path)
    qtbot.addWidget(gallery)
    assert sorted(gallery.paths()) == [str(tmp_path / "cell3.png"), str(tmp_path / "cell4.png")]
    # the most confident mistake first, its text says what it is
    assert gallery.paths()[0].endswith("cell3.png")
    assert "true all" in gallery.list.item(0).text() and "hem 70%" in gallery.list.item(0).text()
    assert "no model here" in " ".join(w.text() for w in gallery.findChildren(type(gallery.header)))

    out = tmp_path / "list.csv"
    gallery.save_csv(str(out))
    rows = list(csv.DictReader(out.open()))
    assert [r["predicted"] for r in rows] == ["hem", "hem"] and rows[0]["patient"] == "P0"

    dialog = gallery.open_item(0)
    qtbot.addWidget(dialog)
    assert dialog.viewer.pixmap() is not None and not dialog.viewer.has_heatmap()
    assert "Patient: P0" in dialog.viewer.patient.full_text()


def test_named_selections(run):
    from allgui.core.validation.predictions import read_predictions
    from allgui.gui.validate.mistakes import Selection, items_of, select

    items = items_of(read_predictions(run.predictions_path, CLASSES), "all")
    names = lambda s: sorted(i.path.rsplit("/", 1)[1] for i in select(items, s, "all")[0])  # noqa: E731
    assert names(Selection("false_negatives")) == ["cell3.png", "cell4.png"]
    assert names(Selection("false_positives")) == ["cell5.png"]
    assert names(Selection("mistakes")) == ["cell3.png", "cell4.png", "cell5.png"]
    uncertain = select(items, Selection("uncertain"), "all")[0]
    assert uncertain[0].path.endswith("cell4.png")  # 0.45 / 0.55: the closest call


def test_heatmaps_come_from_the_runs_exported_model(qtbot, run, tmp_path, tiny_models):
    from allgui.gui.validate.mistakes import Selection, model_of_run

    models = tmp_path / "models"
    models.mkdir()
    (models / "damaged.onnx").write_bytes(b"not a model")  # passed over
    assert model_of_run(models, run.checkpoint) is None
    tiny_models.export(models / "mine.onnx", source=str(run.checkpoint))
    model = model_of_run(models, run.checkpoint)
    assert model is not None and model.name == "mine.onnx"
    gallery = gallery_for(run, Selection("mistakes"), tmp_path, model)
    qtbot.addWidget(gallery)
    assert all(p.heat is not None for p in gallery.contents.pictures)
    assert "mine.onnx" in gallery.header.text() and gallery.heat_check.isChecked()
    dialog = gallery.open_item(0)
    qtbot.addWidget(dialog)
    assert dialog.viewer.showing_heatmap()


def test_viewer_zooms_pans_and_toggles_the_heatmap(qtbot):
    from allgui.gui.widgets.image_view import ImageViewer

    viewer = ImageViewer("nothing yet")
    qtbot.addWidget(viewer)
    viewer.resize(400, 400)
    viewer.show()
    assert viewer.pixmap() is None and viewer.message.text() == "nothing yet"
    rgb = np.zeros((100, 200, 3), np.uint8)
    heat = np.linspace(0, 1, 25, dtype=np.float32).reshape(5, 5)
    viewer.set_image(rgb, heat, path="/data/a/cell.bmp", patient="P7")
    assert viewer.showing_heatmap() and viewer.heatmap_check.isEnabled()
    with_heat = viewer.pixmap().toImage()
    assert with_heat.pixelColor(199, 50) != with_heat.pixelColor(0, 50)  # heat rises to the right
    viewer.heatmap_check.setChecked(False)
    assert viewer.pixmap().toImage() != with_heat
    assert viewer.composed().max() == 0

    fitted = viewer.view.zoom
    viewer.view.zoom_by(2.0)
    assert viewer.view.zoom == pytest.approx(2 * fitted) and not viewer.view.fitted
    viewer.resize(500, 450)  # a resize keeps the user's zoom
    qtbot.wait(10)
    assert viewer.view.zoom == pytest.approx(2 * fitted)
    viewer.opacity.setValue(20)  # redrawing keeps it too
    assert viewer.view.zoom == pytest.approx(2 * fitted)
    viewer.view.fit()
    assert viewer.view.fitted and viewer.zoom_label.text().endswith("%")
    assert viewer.patient.full_text() == "Patient: P7"

    viewer.set_image(rgb, None, no_heat_reason="No heatmap: the model gave none.")
    assert not viewer.heatmap_check.isEnabled() and "gave none" in viewer.heat_note.text()


def test_colour_scale_is_viridis_not_jet():
    from allgui.gui.widgets import colormap

    low, high = colormap.colour(np.array([0.0, 1.0]))
    assert tuple(low) == (68, 1, 84) and tuple(high) == (253, 231, 37)
    # lightness rises steadily (perceptual), unlike jet's
    grey = colormap.LUT @ np.array([0.299, 0.587, 0.114])
    assert np.all(np.diff(grey) > -0.5)


def test_an_empty_heatmap_says_so(qtbot):
    from allgui.gui.widgets.image_view import EMPTY_HEAT, ImageViewer

    viewer = ImageViewer()
    qtbot.addWidget(viewer)
    rgb = np.zeros((32, 32, 3), dtype=np.uint8)
    viewer.set_image(rgb, np.zeros((8, 8), dtype=np.uint8))  # Grad-CAM found nothing for it
    assert viewer.heat_note.text() == EMPTY_HEAT and viewer.has_heatmap()
    viewer.set_image(rgb, np.full((8, 8), 200, dtype=np.uint8))
    assert viewer.heat_note.text() == ""
