"""Screenshots of every tab for a person to look at, at 1280x800 and at the
window's minimum size: the dataset (its viewer and browser), a search running
and finished (each plot, and the history's hover box), the validation (ROC and
confusion), the mistakes gallery and its viewer, classify with its heatmap.
The same walk runs at both sizes, each on a demo project of its own. Run under
a real X server:

    xvfb-run -a -s "-screen 0 1280x800x24" python benchmarks/screenshots.py OUT_DIR

Each shot is the whole screen (``import -window root``), so dialogs show too;
the names start with the size (``1280-`` or ``min-``).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

PLOTS = ("history", "curves", "importance", "parallel")


def main(shots: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from allgui.gui import dialogs, errors
    from allgui.gui.app import make_application
    from allgui.gui.main_window import MainWindow
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
    w.move(0, 0)
    w.show()

    def wait(cond, seconds=400.0):
        wait_until(lambda: cond() or bool(shown), int(seconds * 1000))
        assert not shown, f"error dialog: {shown}"

    def idle():
        wait(lambda: not w.jobs)

    def tab(i):
        w.tabs.setCurrentIndex(i)
        QTest.qWait(150)

    def settled(pause):
        # the plots draw on a worker thread: wait for the pictures to be in
        QTest.qWait(pause)
        o = w.optimize_tab.plots
        wait(lambda: not any(p._rendering for p in (o.history, o.curves, o.importance,
                                                     o.parallel)), 30)
        app.processEvents()

    def walk(size: str) -> None:
        def shot(name, pause=350):
            settled(pause)
            subprocess.run(["import", "-window", "root", str(shots / f"{size}-{name}.png")],
                           check=True)
            print("shot", f"{size}-{name}", flush=True)

        d_tab = w.dataset_tab
        d_tab.demo_options = dict(size=64, images_per_patient=8)
        before = w.project
        QTest.mouseClick(d_tab.demo_button, Qt.LeftButton)
        wait(lambda: w.project is not before and d_tab.view is not None)
        idle()
        tab(0)
        shot("dataset")
        d = d_tab._open_thumb(d_tab.thumbs.item(0))
        d.move(200, 100)
        shot("dataset-viewer")
        d.close()
        d_tab.thumbs.setCurrentRow(0)
        b = d_tab.browse()
        idle()
        shot("dataset-browse")
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
        for i, name in enumerate(PLOTS):
            o.plots.setCurrentIndex(i)
            shot(f"running-{name}", 600)
        o.plots.setCurrentIndex(0)
        idle()
        for i, name in enumerate(PLOTS):
            o.plots.setCurrentIndex(i)
            shot(f"after-{name}", 600)
        o.plots.setCurrentIndex(0)
        best = max(o.book.complete(), key=lambda t: t.value).number
        settled(300)
        o.plots.hover_at(o.plots._hist_numbers.index(best))
        o.trials_table.select_trial(best)
        shot("after-history-hover", 600)
        o.plots.hover_at(None)

        tab(2)
        v = w.validate_tab
        v.runs.setValue(2)
        v.epochs.setValue(3)
        QTest.mouseClick(v.run_button, Qt.LeftButton)
        idle()
        v.figures.setCurrentIndex(0)
        shot("validate-roc")
        v.figures.setCurrentIndex(1)
        shot("validate-confusion")
        before_model = w.classify_tab.classifier
        QTest.mouseClick(v.export_button, Qt.LeftButton)
        idle()
        wait(lambda: w.classify_tab.classifier not in (None, before_model))
        idle()
        v.open_gallery(v.view.batch.chosen_run(), Selection("mistakes"))
        wait(lambda: v.gallery is not None)
        idle()
        v.gallery.move(150, 80)
        shot("gallery")
        big = v.gallery.open_item(0)
        if big is not None:
            big.move(300, 100)
            big.viewer.view.zoom_by(2.0)
            shot("gallery-viewer")
            big.close()
        v.gallery.close()

        tab(3)
        c = w.classify_tab
        c.clear()
        data = Path(w.project.settings.dataset.path)
        folders = sorted({p.parent for p in data.rglob("*.bmp")})[:2]
        c.classify_paths([str(f) for f in folders])
        idle()
        for row in range(c.table.rowCount()):  # an image whose heatmap shows something
            c.table.selectRow(row)
            heat = c._shown.heatmap_small if c._shown is not None else None
            if heat is not None and heat.max() > 0:
                break
        print("classify heatmap:", "none" if heat is None else
              f"{heat.shape}, {heat.min()}..{heat.max()}, mean {heat.mean():.1f}", flush=True)
        shot("classify")

    w.resize(1280, 800)
    walk("1280")
    w.resize(w.minimumSize())
    print("minimum size:", w.minimumSize().width(), "x", w.minimumSize().height(), "; the tabs need",
          ", ".join(f"{type(t).__name__} {t.minimumSizeHint().width()}x"
                    f"{t.minimumSizeHint().height()}" for t in w.all_tabs()), flush=True)
    walk("min")
    help_dialog = w.show_user_guide()
    QTest.qWait(300)
    subprocess.run(["import", "-window", "root", str(shots / "min-user-guide.png")], check=True)
    help_dialog.close()
    w.close()
    print("done", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
