"""How responsive the window stays while a search runs with live plots.

A QTimer on the GUI thread ticks every few milliseconds; the longest gap
between ticks (beyond the interval) is how long the window could not answer
a click. A small search on the synthetic demo data runs meanwhile, the
Optimize tab showing its live history and learning curves (the plot tabs
are cycled with ``--cycle-s`` so every kind of plot is drawn). The window
gets a second to settle before the probe starts and Start is pressed, as a
person would look at the tab first. Prints the maximum gap and the 99th
percentile, over the whole search and per phase. Target: no gap over 50 ms.

    python benchmarks/gui_responsiveness.py [--trials 20] [--epochs 30] [--hide-plots]
    xvfb-run -a env QT_QPA_PLATFORM=xcb python benchmarks/gui_responsiveness.py

Runs offscreen unless QT_QPA_PLATFORM says otherwise (e.g. xcb under Xvfb).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--views", type=int, default=4)
    parser.add_argument("--backbone", default="", help="timm backbone (default: the demo's)")
    parser.add_argument("--tick-ms", type=int, default=5)
    parser.add_argument("--cycle-s", type=float, default=0.0,
                        help="switch between the plot tabs every so many seconds "
                             "(0: stay on the learning curves, redrawn every epoch)")
    parser.add_argument("--hide-plots", action="store_true",
                        help="show the Dataset tab during the search (plots not drawn), "
                             "to tell the plots' share of the gaps from the rest")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer

    from allgui.core.events import EpochEnded, JobStarted, Progress
    from allgui.gui import dialogs, errors
    from allgui.gui.app import make_application
    from allgui.gui.main_window import MainWindow
    from allgui.gui.settings import AppSettings

    app = make_application()
    if os.environ.get("ALLGUI_SWITCH_INTERVAL"):
        sys.setswitchinterval(float(os.environ["ALLGUI_SWITCH_INTERVAL"]))
    problems = []
    errors.present = lambda box: problems.append((box.text(), box.detailedText()))
    dialogs.ask_yes_no = lambda *a: True
    work = Path(tempfile.mkdtemp(prefix="allgui-bench-"))
    settings = AppSettings(work / "settings.ini")
    settings.set_projects_dir(work / "projects")
    window = MainWindow(settings)
    window.resize(1360, 860)
    window.show()

    def run_until(condition, timeout_s=1800.0):
        loop = QEventLoop()
        deadline = time.monotonic() + timeout_s
        timer = QTimer()
        timer.timeout.connect(lambda: (condition() or problems or time.monotonic() > deadline)
                              and loop.quit())
        timer.start(20)
        loop.exec()
        timer.stop()
        if problems:
            raise SystemExit(f"error dialog: {problems}")

    # Like a person, the benchmark starts the search once the window has warmed
    # up the engine's imports in the background.
    warm = time.monotonic()
    run_until(lambda: window.engine_ready)
    print(f"engine warmed up in the background in {time.monotonic() - warm:.1f} s")

    # The demo project, as a newcomer gets it.
    window.dataset_tab.make_demo()
    run_until(lambda: window.dataset_tab.view is not None and not window.jobs)
    project = window.project
    print(f"demo project: {project.root} ({len(window.dataset_tab.view.index.records)} images, "
          f"{project.settings.dataset.image_size} px)")

    tab = window.optimize_tab
    window.tabs.setCurrentWidget(tab)
    tab.trials.setValue(args.trials)
    tab.epochs.setValue(args.epochs)
    tab.views.setValue(args.views)
    tab.device.setCurrentIndex(tab.device.findData("cpu"))
    if args.backbone:
        tab.backbone.setCurrentText(args.backbone)

    # The probe: gaps between ticks of a fast timer on the GUI thread.
    gaps: list[tuple[float, str]] = []
    phase = ["starting"]
    last_event = [""]
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def tick():
        now = clock.nsecsElapsed()
        gaps.append(((now - last[0]) / 1e6 - args.tick_ms, phase[0]))
        if os.environ.get("ALLGUI_BENCH_TRACE") and gaps[-1][0] > 50:
            print(f"  gap {gaps[-1][0]:.0f} ms after {last_event[0]}")
        last[0] = now

    probe = QTimer()
    probe.setInterval(args.tick_ms)
    probe.timeout.connect(tick)

    def on_event(event):
        last_event[0] = f"{type(event).__name__} {getattr(event, 'phase', '')}"
        if isinstance(event, JobStarted) and "trial" in event.description:
            phase[0] = "search set-up"  # study, backbone, first forward passes
        elif isinstance(event, Progress) and event.phase and phase[0] != "epochs":
            phase[0] = event.phase
        elif isinstance(event, EpochEnded):
            phase[0] = "epochs"

    if args.hide_plots:
        window.tabs.setCurrentWidget(window.dataset_tab)
    tab.plots.setCurrentWidget(tab.plots.curves)
    cycle = QTimer()
    cycle.setInterval(int(args.cycle_s * 1000) or 1000)
    cycle.timeout.connect(lambda: tab.plots.setCurrentIndex((tab.plots.currentIndex() + 1) % 4))

    window.job_started.connect(lambda job: job.event.connect(on_event))
    # A person looks at the tab before pressing Start: let its first paint
    # (the plots' first full draws) happen, as it would, before measuring.
    settle = time.monotonic() + 1.0
    run_until(lambda: time.monotonic() > settle)
    started = time.monotonic()
    last[0] = clock.nsecsElapsed()
    probe.start()
    if args.cycle_s and not args.hide_plots:
        cycle.start()
    tab.start()
    run_until(lambda: tab.job is None and not window.jobs)
    probe.stop()
    cycle.stop()
    wall = time.monotonic() - started
    result = tab.result
    plots = (tab.plots.history, tab.plots.curves, tab.plots.importance, tab.plots.parallel)
    draws = sum(p.draw_count for p in plots)
    blits = sum(p.blit_count for p in plots)

    values = np.array([g for g, _ in gaps])
    print(f"platform: {app.platformName()}; CPU load average (1 min) "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    shown = (f"plot tabs cycled every {args.cycle_s:g} s" if args.cycle_s
             else "learning curves shown (redrawn as epochs end)")
    print(f"plots: {'hidden' if args.hide_plots else shown}")
    print(f"search: {result.n_complete} complete trials x {args.epochs} epochs in {wall:.1f} s "
          f"(backbone {project.settings.model.backbone}, {args.views} views, cached mode); "
          f"{draws} plot redraws, {blits} of them repainting only the changed lines")
    print(f"event-loop gaps over {len(values)} ticks of {args.tick_ms} ms:")
    print(f"  all:    max {values.max():6.1f} ms   p99 {np.percentile(values, 99):6.1f} ms   "
          f"over 50 ms: {(values > 50).sum()}")
    for name in dict.fromkeys(p for _, p in gaps):
        v = np.array([g for g, p in gaps if p == name])
        print(f"  {name:<18s} max {v.max():6.1f} ms   p99 {np.percentile(v, 99):6.1f} ms   "
              f"({len(v)} ticks)")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
