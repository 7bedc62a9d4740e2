"""The window under a real X server (Xvfb): the whole path from "Try with
demo data" to a classified dropped image, with screenshots of every tab
during a running search and after.

The walkthrough runs in a child process (this pytest process already has an
offscreen QApplication). Screenshots land in the test's temporary folder, or
in ``$ALLGUI_SCREENSHOT_DIR`` when set, for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.gui, pytest.mark.xvfb]
HERE = Path(__file__).resolve().parent
TAB_NAMES = ("dataset", "optimize", "validate", "classify")


def _free_display() -> int:
    for n in range(90, 200):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number")


@pytest.fixture
def xvfb_display():
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (Debian: apt-get install xvfb); "
                    "the offscreen tests cover the same paths without screenshots")
    n = _free_display()
    proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{n}").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.skip("Xvfb did not start")
        time.sleep(0.05)
    yield f":{n}"
    proc.terminate()
    proc.wait(10)


def test_walkthrough_under_xvfb_with_screenshots(xvfb_display, tmp_path):
    shots = Path(os.environ.get("ALLGUI_SCREENSHOT_DIR") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DISPLAY=xvfb_display, QT_QPA_PLATFORM="xcb", OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, __file__, str(tmp_path / "work"), str(shots)],
                         env=env, capture_output=True, text=True, timeout=600)
    print(out.stdout[-4000:])
    if "Could not load the Qt platform plugin" in out.stderr:
        pytest.skip("Qt's xcb plugin cannot load (Debian: apt-get install libxcb-cursor0): "
                    + out.stderr.strip().splitlines()[0])
    assert out.returncode == 0, out.stderr[-4000:]
    for stage in ("running", "after"):
        for name in TAB_NAMES:
            image = shots / f"{stage}-{name}.png"
            assert image.is_file() and image.stat().st_size > 10_000, image
    assert (shots / "classified.png").is_file()
    assert "classified: " in out.stdout


# -- the walkthrough (child process, real X server) ------------------------------------------


def walkthrough(work: Path, shots: Path) -> None:
    sys.path.insert(0, str(HERE))
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtTest import QTest

    from allgui import RESEARCH_NOTICE
    from allgui.gui import dialogs, errors
    from allgui.gui.app import make_application
    from allgui.gui.main_window import MainWindow
    from allgui.gui.settings import AppSettings

    from support.gui import TINY_BACKBONE, drop_paths, wait_until

    app = make_application()
    shown = []
    errors.present = lambda box: (shown.append((box.text(), box.detailedText())), box.open())
    dialogs.ask_yes_no = lambda *a: True
    settings = AppSettings(work / "settings.ini")
    settings.set_projects_dir(work / "projects")
    w = MainWindow(settings)
    w.resize(1360, 860)
    w.show()

    def wait(cond, seconds=300.0):
        wait_until(lambda: cond() or bool(shown), int(seconds * 1000))
        assert not shown, f"error dialog: {shown}"

    def idle():
        wait(lambda: not w.jobs)

    def click(widget):
        QTest.mouseClick(widget, Qt.LeftButton)

    def show_tab(i):
        bar = w.tabs.tabBar()
        QTest.mouseClick(bar, Qt.LeftButton, Qt.NoModifier, bar.tabRect(i).center())
        QTest.qWait(150)

    def shot(name):
        app.processEvents()
        screen = QGuiApplication.primaryScreen().grabWindow(0)
        screen.save(str(shots / f"{name}.png"))

    QTest.qWait(300)
    assert w.notice.isVisible() and RESEARCH_NOTICE in w.notice.text()

    # 1. Try with demo data.
    w.dataset_tab.demo_options = dict(size=64, images_per_patient=8)
    click(w.dataset_tab.demo_button)
    wait(lambda: w.dataset_tab.view is not None)
    idle()
    assert "SYNTHETIC" in w.project_label.text()
    wait(lambda: "checking" not in w.device_label.text(), 60)

    # 2. A search, screenshots of each tab while it runs.
    show_tab(1)
    tab = w.optimize_tab
    tab.trials.setValue(400)  # stopped by the user below, after the screenshots
    tab.epochs.setValue(6)
    tab.views.setValue(3)
    tab.startup_trials.setValue(3)
    tab.backbone.setCurrentText(TINY_BACKBONE)
    click(tab.start_button)
    wait(lambda: len(tab.book.complete()) >= 3)
    for i, name in enumerate(("dataset", "optimize", "validate", "classify")):
        show_tab(i)
        QTest.qWait(300)
        shot(f"running-{name}")
    assert tab.job is not None, "the search ended before the screenshots; make it longer"
    show_tab(1)
    wait(lambda: len(tab.book.complete()) >= 8)
    click(tab.stop_button)
    idle()
    assert tab.result.stopped and "Resume" in tab.start_button.text()
    tab.plots.setCurrentIndex(1)  # learning curves of the last trial
    QTest.qWait(400)
    shot("after-curves")
    tab.plots.setCurrentIndex(2)  # importances
    QTest.qWait(400)
    shot("after-importance")
    tab.plots.setCurrentIndex(3)
    QTest.qWait(400)
    shot("after-parallel")
    tab.plots.setCurrentIndex(0)

    # 3. Validation, export.
    show_tab(2)
    v = w.validate_tab
    v.runs.setValue(2)
    v.epochs.setValue(4)
    click(v.run_button)
    idle()
    click(v.export_button)
    idle()
    wait(lambda: w.classify_tab.classifier is not None)
    idle()

    # 4. Drop a few images on the window.
    show_tab(3)
    data = Path(w.project.settings.dataset.path)
    images = sorted(data.rglob("*.bmp"))[:5]
    drop_paths(w, images)
    idle()
    c = w.classify_tab
    assert c.table.rowCount() == len(images)
    c.table.selectRow(0)
    QTest.qWait(200)
    shot("classified")
    print("classified:", c.answer_label.text())
    for i, name in enumerate(TAB_NAMES):
        show_tab(i)
        QTest.qWait(300)
        shot(f"after-{name}")
    QTest.mouseMove(w, QPoint(5, 5))
    w.close()
    print("walkthrough finished; screenshots in", shots)


if __name__ == "__main__":
    walkthrough(Path(sys.argv[1]), Path(sys.argv[2]))
