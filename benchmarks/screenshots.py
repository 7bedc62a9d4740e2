"""Screenshots of every tab for a person to look at, at 1280x800 and at the
window's minimum size: the dataset, a search running and finished (each
plot), the validation, the mistakes gallery, the viewer, classify with its
heatmap. Run under a real X server:

    xvfb-run -s "-screen 0 1280x800x24" python benchmarks/screenshots.py OUT_DIR

Each shot is the whole screen (``import -window root``), so dialogs show too.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def main(shots: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from allgui.gui import dialogs, errors
    from allgui.gui.app import make_application
    from allgui.gui.main_window import MINIMUM_SIZE, MainWindow
    from allgui.gui.settings import AppSettings
    from allgui.gui.validate.mistakes import Selection

    from support.gui import TINY_BACKBONE, wait_until

    shots.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="allgui-shots-"))
    app = make_application()
    shown = []
    errors.present = lambda box: (shown.append(box.text()), box.open())
    dialogs.ask_yes_no = lambda *a: True
    settings = AppSettings(work / "settings.ini")
    settings.set_projects_dir(work / "projects")
    w = MainWindow(settings, probe_device=False)
    w.resize(1280, 800)
    w.move(0, 0)
    w.show()

    def wait(cond, seconds=400.0):
        wait_until(lambda: cond() or bool(shown), int(seconds * 1000))
        assert not shown, f"error dialog: {shown}"

    def idle():
        wait(lambda: not w.jobs)

    def shot(name, pause=350):
        QTest.qWait(pause)
        app.processEvents()
        subprocess.run(["import", "-window", "root", str(shots / f"{name}.png")], check=True)
        print("shot", name, flush=True)

    def tab(i):
        w.tabs.setCurrentIndex(i)
        QTest.qWait(150)

    w.dataset_tab.demo_options = dict(size=64, images_per_patient=8)
    QTest.mouseClick(w.dataset_tab.demo_button, Qt.LeftButton)
    wait(lambda: w.dataset_tab.view is not None)
    idle()
    shot("1280-dataset")
    d = w.dataset_tab._open_thumb(w.dataset_tab.thumbs.item(0))
    d.move(200, 100)
    shot("1280-dataset-viewer")
    d.close()
    w.dataset_tab.thumbs.setCurrentRow(0)
    b = w.dataset_tab.browse()
    idle()
    shot("1280-dataset-browse")
    b.close()

    tab(1)
    o = w.optimize_tab
    o.trials.setValue(12)
    o.epochs.setValue(3)
    o.views.setValue(2)
    o.startup_trials.setValue(3)
    o.device.setCurrentIndex(o.device.findData("cpu"))
    o.backbone.setCurrentText(TINY_BACKBONE)
    o.weights.setCurrentIndex(o.weights.findData("none"))
    QTest.mouseClick(o.start_button, Qt.LeftButton)
    wait(lambda: len(o.book.complete()) >= 4)
    for i, name in enumerate(("history", "curves", "importance", "parallel")):
        o.plots.setCurrentIndex(i)
        shot(f"1280-running-{name}", 600)
    o.plots.setCurrentIndex(0)
    idle()
    for i, name in enumerate(("history", "curves", "importance", "parallel")):
        o.plots.setCurrentIndex(i)
        shot(f"1280-after-{name}", 600)
    o.plots.setCurrentIndex(0)
    best = max(o.book.complete(), key=lambda t: t.value).number
    o.plots.hover_at(o.plots._hist_numbers.index(best))
    o.trials_table.select_trial(best)
    shot("1280-after-history-hover", 600)

    tab(2)
    v = w.validate_tab
    v.runs.setValue(2)
    v.epochs.setValue(3)
    QTest.mouseClick(v.run_button, Qt.LeftButton)
    idle()
    shot("1280-validate-roc")
    v.figures.setCurrentIndex(1)
    shot("1280-validate-confusion")
    QTest.mouseClick(v.export_button, Qt.LeftButton)
    idle()
    wait(lambda: w.classify_tab.classifier is not None)
    idle()
    v.open_gallery(v.view.batch.chosen_run(), Selection("mistakes"))
    wait(lambda: v.gallery is not None)
    idle()
    v.gallery.move(150, 80)
    shot("1280-gallery")
    big = v.gallery.open_item(0)
    if big is not None:
        big.move(300, 100)
        big.viewer.view.zoom_by(2.0)
        shot("1280-gallery-viewer")
        big.close()
    v.gallery.close()

    tab(3)
    c = w.classify_tab
    data = Path(w.project.settings.dataset.path)
    folders = sorted({p.parent for p in data.rglob("*.bmp")})[:2]
    c.classify_paths([str(f) for f in folders])
    idle()
    c.table.selectRow(0)
    shot("1280-classify")

    w.resize(*MINIMUM_SIZE)
    for i, name in enumerate(("dataset", "optimize", "validate", "classify")):
        tab(i)
        shot(f"min-{name}")
    tab(1)
    for i, name in enumerate(("curves", "parallel")):
        o.plots.setCurrentIndex(i + 1 if name == "curves" else 3)
        shot(f"min-optimize-{name}", 600)
    tab(2)
    v.figures.setCurrentIndex(1)
    shot("min-validate-confusion")
    help_dialog = w.show_user_guide()
    shot("min-user-guide")
    help_dialog.close()
    w.close()
    print("done", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
