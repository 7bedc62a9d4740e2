"""The whole flow in the real window, driven as a user would, timed for silence.

Starts allgui's main window under the X server that DISPLAY names and works
through File > New project, the Dataset tab (read, Apply split), Optimize (a
small search), Validate (closing the window after the first finished run,
reopening the project and pressing "Resume validation"), Export, Classify
(images dropped on the window and opened with "Classify images…") and
"Evaluate on other data" on a folder. Every step is a click, a key press or a
typed value on the real widgets; the file pickers are answered as the user
would answer them (their module functions return the chosen path), message
boxes are answered by clicking their buttons.

Every 0.25 s the driver reads what a user sees move: each progress line's bar
(value, range), phase words and time left, the status bar's job line and the
log panel's line count. For each step it prints the wall time and the longest
time nothing of that moved (and what the progress line said then), and it
saves a picture of each tab after each step into --shots. After the resumed
validation it checks, from the batch's files and the job's events, that the
finished run and the probe were not computed again.

    Xvfb :92 -screen 0 1280x800x24 &
    DISPLAY=:92 QT_QPA_PLATFORM=xcb nice -n 5 python benchmarks/window_flow.py \\
        --data demo --shots /tmp/shots-demo
    DISPLAY=:92 QT_QPA_PLATFORM=xcb nice -n 5 python benchmarks/window_flow.py \\
        --data ../shared/fixtures/realdata/aria_all \\
        --weights ../shared/fixtures/weights/tf_efficientnet_lite0.safetensors \\
        --shots /tmp/shots-real

Target (issue 26): no step silent for 10 s or more on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SILENT_TARGET_S = 10.0
POLL_MS = 250


@dataclass
class Step:
    name: str
    started: float
    ended: float = 0.0
    moves: list[tuple[float, str]] = field(default_factory=list)  # (time, what the line said)

    def longest_gap(self) -> tuple[float, str, float]:
        """(seconds, what the progress line said, when it began)."""
        times = [self.started] + [t for t, _ in self.moves] + [self.ended]
        words = ["(step start)"] + [w for _, w in self.moves]
        gaps = [(b - a, words[i], a)
                for i, (a, b) in enumerate(zip(times, times[1:], strict=False))]
        return max(gaps, default=(0.0, "", self.started))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True,
                   help="'demo' (synthetic data generated first) or a folder of class folders")
    p.add_argument("--shots", type=Path, required=True, help="folder for the screenshots")
    p.add_argument("--work", type=Path, help="folder for the projects (default: a new temp one)")
    p.add_argument("--backbone", default="", help="default: the demo's, or tf_efficientnet_lite0")
    p.add_argument("--weights", default="", help="a local weights file (Weights > Local file)")
    p.add_argument("--image-size", type=int, default=0, help="default: 64 on demo, else 224")
    p.add_argument("--trials", type=int, default=4)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--views", type=int, default=3)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--run-epochs", type=int, default=5)
    p.add_argument("--classify", type=int, default=4, help="images dropped, as many opened")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per step at most")
    p.add_argument("--json", type=Path, help="write the per-step figures here too")
    return p.parse_args()


def main() -> int:  # noqa: C901 - one straight walk, step after step
    args = parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    from PySide6.QtCore import QEventLoop, QMimeData, QPointF, Qt, QTimer, QUrl
    from PySide6.QtGui import QDropEvent
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QMessageBox, QSpinBox

    from allgui.gui import dialogs
    from allgui.gui.app import make_application
    from allgui.gui.main_window import MainWindow
    from allgui.gui.new_project import NewProjectForm
    from allgui.gui.settings import AppSettings
    from allgui.gui.widgets.progress import JobProgress

    work = args.work or Path(tempfile.mkdtemp(prefix="allgui-flow-"))
    work.mkdir(parents=True, exist_ok=True)
    args.shots.mkdir(parents=True, exist_ok=True)
    demo = args.data == "demo"
    if demo:
        data = work / "demo-data"
        if not data.exists():  # made once, as `allgui demo-data` makes it
            subprocess.run([sys.executable, "-m", "allgui", "demo-data", str(data), "--size", "96",
                            "--images-per-patient", "16"], check=True)
        backbone = args.backbone or "mobilenetv3_small_050"
        size = args.image_size or 64
    else:
        data = Path(args.data).resolve()
        backbone = args.backbone or "tf_efficientnet_lite0"
        size = args.image_size or 224
    weights = str(Path(args.weights).resolve()) if args.weights else ""

    app = make_application()
    settings = AppSettings(work / "settings.ini")
    settings.set_projects_dir(work / "projects")

    # -- the user's answers to the file pickers, and every message box ------------------
    picks: dict[str, list] = {}  # dialog kind -> answers, first first
    asked: list[str] = []
    problems: list[str] = []

    def picker(kind):
        def answer(parent, title, *rest):
            queue = picks.get(kind) or []
            value = queue.pop(0) if queue else ("" if kind != "images" else [])
            asked.append(f"{kind} '{title}' -> {value}")
            return value
        return answer

    for kind in ("choose_directory", "choose_open_file", "choose_save_file", "choose_images"):
        setattr(dialogs, kind, picker(kind.removeprefix("choose_")))

    def answer_boxes() -> None:
        for box in QApplication.topLevelWidgets():
            if not isinstance(box, QMessageBox) or not box.isVisible():
                continue
            text = f"{box.windowTitle()}: {box.text()}"
            yes = box.button(QMessageBox.Yes)
            if yes is not None:
                asked.append("question " + text.replace("\n", " "))
                QTest.mouseClick(yes, Qt.LeftButton)
            else:
                if box.icon() in (QMessageBox.Critical, QMessageBox.Warning):
                    problems.append(text)
                asked.append("message " + text.replace("\n", " "))
                ok = box.button(QMessageBox.Ok) or (box.buttons() or [None])[0]
                if ok is not None:
                    QTest.mouseClick(ok, Qt.LeftButton)
                else:
                    box.close()

    # -- what moves ----------------------------------------------------------------------
    holder: dict = {"window": None}
    steps: list[Step] = []
    last_seen: list = [None]
    events: list[tuple[float, str, str]] = []  # (time, job, what)

    def progress_lines(w) -> list[JobProgress]:
        lines = list(w.findChildren(JobProgress))
        dialog = getattr(w.validate_tab, "evaluation", None)
        if dialog is not None:
            lines += [p for p in dialog.findChildren(JobProgress) if p not in lines]
        return lines

    def seen(w) -> tuple:
        lines = tuple((p.bar.value(), p.bar.minimum(), p.bar.maximum(), p.label.text(),
                       p.eta.text()) for p in progress_lines(w))
        return lines, w.job_label.text(), w.log_view.blockCount()

    line_states: dict[int, tuple] = {}
    last_line: list = [None]

    def where(w) -> str:
        """The progress line that moved last (the one the user is watching)."""
        for p in progress_lines(w):
            state = (p.bar.value(), p.bar.maximum(), p.label.text(), p.eta.text())
            if line_states.get(id(p)) != state:
                line_states[id(p)] = state
                last_line[0] = p
        p = last_line[0]
        if p is None or not w.jobs:
            return w.job_label.text() or "(idle)"
        bar = f"{p.bar.value()}/{p.bar.maximum()}" if p.bar.maximum() else "busy"
        return f"{p.label.text()} [{bar}] {p.eta.text()}".strip()

    def poll() -> None:
        answer_boxes()
        w = holder["window"]
        if w is None or not steps or steps[-1].ended:
            return
        try:
            now_seen = seen(w)
            if now_seen != last_seen[0]:
                last_seen[0] = now_seen
                steps[-1].moves.append((time.monotonic(), where(w)))
        except RuntimeError:  # the window is going
            return

    timer = QTimer()
    timer.setInterval(POLL_MS)
    timer.timeout.connect(poll)
    timer.start()

    def wait(cond, what: str, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or args.timeout)
        loop = QEventLoop()
        check = QTimer()
        check.setInterval(50)
        check.timeout.connect(lambda: (cond() or problems or time.monotonic() > deadline)
                              and loop.quit())
        check.start()
        if not cond():
            loop.exec()
        check.stop()
        if problems:
            raise SystemExit(f"error while {what}: {problems}")
        if not cond():
            raise SystemExit(f"timed out while {what}")

    def pause(ms: int) -> None:
        end = time.monotonic() + ms / 1000
        wait(lambda: time.monotonic() >= end, "pausing")

    def idle(w, what: str) -> None:
        wait(lambda: not w.jobs, what)

    def begin(name: str) -> Step:
        step = Step(name, time.monotonic())
        steps.append(step)
        last_seen[0] = seen(holder["window"])
        print(f"-- {name}", flush=True)
        return step

    def end(step: Step, pictures: bool = True) -> None:
        step.ended = time.monotonic()
        gap, at, since = step.longest_gap()
        before = [e for t, _, e in events if t <= since + gap]
        print(f"   {step.ended - step.started:7.1f} s, longest silence {gap:5.1f} s at: {at}"
              f"\n     (the last event before it ended: {before[-1] if before else 'none'})",
              flush=True)
        if pictures:
            shoot(step.name)

    def shoot(name: str) -> None:
        w = holder["window"]
        if w is None:
            return
        current = w.tabs.currentIndex()
        slug = name.lower().replace(" ", "-").replace("/", "-")
        for i in range(w.tabs.count()):
            w.tabs.setCurrentIndex(i)
            app.processEvents()
            pause(200)
            tab = w.tabs.tabText(i).replace("&", "").lower()
            w.grab().save(str(args.shots / f"{len(steps):02d}-{slug}-{tab}.png"))
        w.tabs.setCurrentIndex(current)
        dialog = getattr(w.validate_tab, "evaluation", None)
        if dialog is not None and dialog.isVisible():
            dialog.grab().save(str(args.shots / f"{len(steps):02d}-{slug}-evaluate.png"))

    def type_into(widget, text: str) -> None:
        edit = widget.lineEdit() if isinstance(widget, QSpinBox) else widget
        edit.setFocus()
        edit.selectAll()
        QTest.keyClick(edit, Qt.Key_Delete)
        QTest.keyClicks(edit, text)
        QTest.keyClick(edit, Qt.Key_Tab)  # Return in a dialog would press its default button

    def click(button) -> None:
        assert button.isEnabled(), f"'{button.text()}' is not enabled"
        QTest.mouseClick(button, Qt.LeftButton)

    def menu(w, action) -> None:
        """A menu entry chosen (Xvfb has no window manager to give the window the
        keyboard focus its shortcut needs, so the entry is chosen as a click would)."""
        assert action.isEnabled(), f"'{action.text()}' is not enabled"
        action.trigger()

    def to_tab(w, tab) -> None:
        bar = w.tabs.tabBar()
        QTest.mouseClick(bar, Qt.LeftButton, Qt.NoModifier,
                         bar.tabRect(w.tabs.indexOf(tab)).center())
        assert w.tabs.currentWidget() is tab

    def open_window() -> MainWindow:
        line_states.clear()
        last_line[0] = None
        w = MainWindow(settings)
        w.move(0, 0)
        w.show()
        holder["window"] = w
        w.job_started.connect(lambda job: job.event.connect(
            lambda e, j=job.name: events.append((time.monotonic(), j, describe(e)))))
        wait(lambda: w.engine_ready, "warming up", 300)
        return w

    def describe(e) -> str:
        kind = type(e).__name__
        if kind == "Progress":
            return f"Progress {e.phase} {e.done}/{e.total} {e.message}".strip()
        if kind == "EpochEnded":
            return f"EpochEnded trial={e.trial} run={e.run} {e.epoch}/{e.epochs}"
        return f"{kind} {getattr(e, 'description', '') or getattr(e, 'message', '')}".strip()

    # ======================================================================================
    w = open_window()
    w.resize(1280, 800)
    print(f"window {w.width()}x{w.height()} on {app.platformName()}; data {data}; backbone "
          f"{backbone} ({'local file' if weights else 'no pretrained weights'}), {size} px",
          flush=True)

    # -- File > New project ---------------------------------------------------------------
    s = begin("New project and reading the dataset")
    picks["open_file"] = [weights] if weights else []
    menu(w, w.new_action)  # File > New project…
    wait(lambda: any(isinstance(x, NewProjectForm) and x.isVisible()
                     for x in app.topLevelWidgets()), "opening File > New")
    form = next(x for x in app.topLevelWidgets() if isinstance(x, NewProjectForm))
    type_into(form.name, "flow-project")
    type_into(form.dataset, str(data))
    type_into(form.image_size, str(size))
    form.backbone.setFocus()
    form.backbone.lineEdit().selectAll()
    QTest.keyClicks(form.backbone.lineEdit(), backbone)
    form.weights.setCurrentIndex(form.weights.findData("file" if weights else "none"))
    click(form.create_button)
    wait(lambda: w.project is not None, "making the project")
    wait(lambda: w.dataset_tab.view is not None and not w.jobs, "reading the dataset")
    project_root = w.project.root
    print(f"   project {project_root}: {w.project.settings.model}", flush=True)
    end(s)

    # -- Dataset: Apply split -------------------------------------------------------------
    d = w.dataset_tab
    to_tab(w, d)
    s = begin("Apply split")
    click(d.apply_split_button)
    pause(300)
    idle(w, "applying the split")
    end(s)

    # -- Optimize ---------------------------------------------------------------------------
    o = w.optimize_tab
    to_tab(w, o)
    for spin, value in ((o.trials, args.trials), (o.epochs, args.epochs), (o.views, args.views),
                        (o.startup_trials, max(1, args.trials // 2))):
        type_into(spin, str(value))
    o.device.setCurrentIndex(o.device.findData("cpu"))
    print(f"   the form: {o.backbone.currentText()}, weights {o.weights.currentData()} "
          f"{o.weights_file.text()}; the project: {w.project.settings.model}", flush=True)
    s = begin("Optimize")
    click(o.start_button)
    pause(300)
    idle(w, "searching")
    end(s)

    # -- Validate, closed after its first run, reopened and resumed ----------------------------
    v = w.validate_tab
    to_tab(w, v)
    type_into(v.runs, str(args.runs))
    type_into(v.epochs, str(args.run_epochs))
    s = begin("Validate until run 1 ends")
    click(v.run_button)
    wait(lambda: any(e.startswith("RunFinished") for _, _, e in events), "running validation")
    end(s, pictures=False)  # closed at once, while the next run trains (the live view: step 06)
    batch = max((project_root / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    before = {p.relative_to(batch): p.stat().st_mtime_ns for p in batch.rglob("*")
              if p.is_file()}
    s = begin("Close during validation")
    w.close()  # the question "Stop the running job?" is answered Yes
    wait(lambda: not w.isVisible(), "closing the window")
    holder["window"] = None
    s.ended = time.monotonic()
    print(f"   closed in {s.ended - s.started:.1f} s", flush=True)
    w.deleteLater()
    app.processEvents()

    w = open_window()
    w.resize(1280, 800)
    picks["directory"] = [str(project_root)]
    menu(w, w.open_action)  # File > Open project…
    wait(lambda: w.project is not None and w.dataset_tab.view is not None and not w.jobs,
         "reopening the project")
    v = w.validate_tab
    to_tab(w, v)
    wait(lambda: v.run_button.text().startswith("Resume validation"), "the Resume offer", 30)
    offer = v.run_button.text()
    print(f"   reopened: the button says '{offer}'", flush=True)
    mark = len(events)
    s = begin("Resume validation")
    click(v.run_button)
    pause(300)
    idle(w, "resuming validation")
    end(s)
    resumed = [e for _, _, e in events[mark:]]
    after = {p.relative_to(batch): p.stat().st_mtime_ns for p in batch.rglob("*") if p.is_file()}
    rewritten = sorted(str(p) for p, t in before.items() if after.get(p) != t)
    probe_again = [e for e in resumed if "probe features" in e or "probe fits" in e]
    run1_again = [e for e in resumed if "run=1 " in e]
    print(f"   files of run 1 and the probe written again: {rewritten or 'none'}")
    print(f"   probe recomputed on resume: {bool(probe_again)} ({len(probe_again)} events); "
          f"run 1 retrained: {bool(run1_again)}", flush=True)

    # -- Export -------------------------------------------------------------------------------
    s = begin("Export")
    loaded = w.classify_tab.classifier
    click(v.export_button)
    wait(lambda: w.classify_tab.classifier not in (None, loaded) and not w.jobs, "exporting")
    end(s)

    # -- Classify: dropped, then opened -----------------------------------------------------
    images = sorted(p for p in data.rglob("*") if p.suffix.lower() in (".bmp", ".jpg", ".png"))
    chosen = images[:: max(1, len(images) // (2 * args.classify))][: 2 * args.classify]
    c = w.classify_tab
    to_tab(w, c)
    s = begin("Classify")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in chosen[: args.classify]])
    w.dropEvent(QDropEvent(QPointF(40, 40), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    pause(300)
    idle(w, "classifying dropped images")
    picks["images"] = [[str(p) for p in chosen[args.classify:]]]
    click(c.add_images_button)
    pause(300)
    idle(w, "classifying opened images")
    c.table.selectRow(0)
    end(s)
    print(f"   {c.table.rowCount()} images in the table", flush=True)

    # -- Evaluate on other data ---------------------------------------------------------------
    to_tab(w, v)
    s = begin("Evaluate on a folder")
    click(v.evaluate_button)
    dialog = v.evaluation
    wait(lambda: dialog is not None and dialog.isVisible(), "opening Evaluate")
    picks["directory"] = [str(data)]
    click(dialog.classes_button)
    click(dialog.evaluate_button)
    pause(300)
    wait(lambda: dialog.job is None and dialog.report_files is not None, "evaluating")
    end(s)
    print(f"   {dialog.summary_label.text()}", flush=True)

    # -- the table ---------------------------------------------------------------------------
    print(f"\nwindow flow on {data.name} ({backbone}, {size} px; {args.trials} trials x "
          f"{args.epochs} epochs, {args.views} views; validation {args.runs} runs x "
          f"{args.run_epochs} epochs); CPU load {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs")
    print(f"{'step':<40s} {'wall s':>8s} {'silent s':>9s}  where")
    rows = []
    for step in steps:
        if not step.ended or step.name.startswith("Close"):
            continue
        gap, at, _ = step.longest_gap()
        flag = " <-- over target" if gap >= SILENT_TARGET_S else ""
        print(f"{step.name:<40s} {step.ended - step.started:8.1f} {gap:9.1f}  {at}{flag}")
        rows.append(dict(step=step.name, wall_s=round(step.ended - step.started, 1),
                         silent_s=round(gap, 1), where=at))
    print(f"\nresume: '{offer}'; rewritten files {len(rewritten)}; probe again "
          f"{bool(probe_again)}; run 1 again {bool(run1_again)}")
    print("dialogs answered:")
    for line in asked:
        print("  ", line[:200])
    if args.json:
        args.json.write_text(json.dumps(dict(steps=rows, offer=offer, rewritten=rewritten,
                                             probe_again=bool(probe_again),
                                             run1_again=bool(run1_again), asked=asked),
                                        indent=1))
    (args.shots / "events.txt").write_text("\n".join(
        f"{t - steps[0].started:8.2f} {j}: {e}" for t, j, e in events))
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
